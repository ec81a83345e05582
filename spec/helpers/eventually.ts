import assert from 'node:assert/strict';

/** Polls a condition the library exposes (no fixed sleeps): every 50 ms, failing after ms. */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
