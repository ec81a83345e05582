/**
 * Bounded waits for work that someone awaits (a run, an initialize, a cleanup). Their timers are
 * ref'd on purpose: when the engine goes away mid-run, such a timer may be the only thing left in
 * Node's event loop, and an unref'd one would let the process exit with the caller's promise still
 * pending. Each timer is cleared as soon as the race is decided, so none outlives its wait.
 */

/** Resolves after ms; the timer keeps the process alive (the caller awaits it). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits for `promise` to settle, at most `ms`: resolves with true if it settled in time (resolved
 * or rejected), false if time ran out. Never rejects.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
