/**
 * Coalesces work submitted close together into one call of `flush`: items submitted
 * in the same turn of the event loop, or while an earlier flush is still running, go
 * in the next batch (at most `maxBatch` items). Flushes never overlap, so they run in
 * submission order. Each submitter gets the result for its own item, or the batch's
 * error.
 *
 * Why: a node receives bursts of attestations for the same spec (every verifier
 * finishing the same build). Storing them one LevelDB batch at a time and
 * re-evaluating consensus after each costs O(votes) per envelope; per batch it is
 * paid once.
 */
export class Batcher<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 512,
  ) {}

  submit(item: T): Promise<R> {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    this.pending.push({ item, resolve, reject });
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.drain());
    }
    return promise;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.running = false;
  }
}
