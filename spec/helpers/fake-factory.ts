/** A counting resource factory for pool unit specs: creations can be held, failed or released by hand. */
import type { PoolResourceFactory } from '../../lib/pool/pool.js';

export interface FakeResource {
  id: number;
}

interface PendingCreate {
  resolve(): void;
  reject(error: Error): void;
}

export class FakeFactory implements PoolResourceFactory<FakeResource> {
  created = 0;
  readonly destroyBatches: number[][] = [];
  /** When true, create() waits until release() or fail() is called. */
  hold = false;
  failWith: Error | undefined;
  readonly pending: PendingCreate[] = [];
  /** The `recovering` flag of each create() call, in order. */
  readonly recoveringFlags: boolean[] = [];
  /** Ids start here (so that the resources of several factories differ). */
  constructor(readonly firstId = 1) {}

  create(recovering = false): Promise<FakeResource> {
    this.recoveringFlags.push(recovering);
    const id = this.firstId + this.created++;
    if (this.failWith) return Promise.reject(this.failWith);
    if (!this.hold) return Promise.resolve({ id });
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve: () => resolve({ id }), reject });
    });
  }

  destroy(items: readonly FakeResource[]): Promise<void> {
    this.destroyBatches.push(items.map((item) => item.id));
    return Promise.resolve();
  }

  get destroyed(): number[] {
    return this.destroyBatches.flat().sort((a, b) => a - b);
  }

  releaseAll(): void {
    for (const pending of this.pending.splice(0)) pending.resolve();
  }

  failAll(error: Error): void {
    for (const pending of this.pending.splice(0)) pending.reject(error);
  }
}

/** Lets queued microtasks and immediates run (the pool batches destroys on setImmediate). */
export function settleTasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
