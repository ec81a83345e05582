/** The npm piston-client (1.0.x), which ships no types: what the specs use of it. */
declare module 'piston-client' {
  interface PistonConfig {
    stdin?: string;
    args?: string[];
    runTimeout?: number;
    version?: string;
    files?: { name?: string; content: string }[];
  }
  interface PistonClient {
    runtimes(): Promise<unknown>;
    /** execute(language, code, config?), or execute(language, config) with the program in config.files. */
    execute(language: string, code: string, config?: PistonConfig): Promise<unknown>;
    execute(language: string, config: PistonConfig): Promise<unknown>;
  }
  export default function piston(options: { server: string }): PistonClient;
}
