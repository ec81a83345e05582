/**
 * The original library's callback style on top of promises. The callback is called outside the
 * promise chain, so an exception thrown inside it surfaces like any callback's, never as an
 * unhandled rejection.
 */
export type Callback<T> = (error: Error | null, value?: T) => void;

export function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): Promise<T> | undefined {
  if (callback === undefined) return promise;
  if (typeof callback !== 'function') throw new TypeError(`Expected the callback to be a function, got ${typeof callback}.`);
  promise.then(
    (value) => process.nextTick(callback, null, value),
    (error: Error) => process.nextTick(callback, error),
  );
  return undefined;
}
