/** The npm piston-client (1.0.x), which ships no types: what the specs use of it. */
declare module 'piston-client' {
  interface PistonClient {
    runtimes(): Promise<unknown>;
    execute(language: string, code: string, config?: { stdin?: string; args?: string[]; runTimeout?: number; version?: string }): Promise<unknown>;
  }
  export default function piston(options: { server: string }): PistonClient;
}
