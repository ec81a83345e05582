/**
 * Running many tasks with a bounded number in flight.
 */

/**
 * Runs `total` tasks with at most `concurrency` in flight, in order of `index` (0..total-1). Each
 * task also learns its worker's number (0..concurrency-1), so a worker can own a resource. The
 * first failure stops new tasks.
 */
export async function runConcurrently(total: number, concurrency: number, task: (worker: number, index: number) => Promise<void>): Promise<void> {
  let started = 0;
  let failed = false;
  const worker = async (workerIndex: number): Promise<void> => {
    while (!failed && started < total) {
      const index = started;
      started += 1;
      try {
        await task(workerIndex, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, (_, workerIndex) => worker(workerIndex)));
}
