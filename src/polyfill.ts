/**
 * Runtime gaps of Node 20 that our dependencies rely on. Loaded before anything else
 * by every entry point (the CLI, mocha's `node-option`, bench scripts).
 *
 * libp2p 3.x calls `Promise.withResolvers` (ES2024), which Node 20 does not have.
 */
const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
