/**
 * The program every subject runs, and the check that it printed what it should.
 */
import { ScriptFailure } from '../shared/script.js';

export const HELLO = 'print("Hello world")';
const EXPECTED = 'Hello world\n';

/** A wrong output is a real failure: the bench then exits non-zero. */
export function expectHello(stdout: string, who: string, stderr = ''): void {
  if (stdout === EXPECTED) return;
  const details = stderr.trim() ? `; stderr: ${JSON.stringify(stderr.trim().slice(0, 300))}` : '';
  throw new ScriptFailure(`${who}: expected stdout ${JSON.stringify(EXPECTED)}, got ${JSON.stringify(stdout.slice(0, 300))}${details}`);
}
