import { Bit4bitError } from '../errors.js';

/**
 * A bounded FIFO of builds keyed by spec id, running at most `concurrency` at once. A
 * spec already waiting or running is not queued twice. `stop()` aborts running jobs
 * through their signal and drops the waiting ones (they are derived again from the
 * stores at the next start, so nothing is lost).
 */
export class BuildQueue {
  private readonly waiting: { key: string; run: (signal: AbortSignal) => Promise<void> }[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly controller = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly limit: number,
    private readonly onError: (key: string, e: unknown) => void,
  ) {}

  get depth(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running.size;
  }

  has(key: string): boolean {
    return this.running.has(key) || this.waiting.some((j) => j.key === key);
  }

  /** Queues a job; false when the key is already queued or running. Throws when full. */
  add(key: string, run: (signal: AbortSignal) => Promise<void>): boolean {
    if (this.controller.signal.aborted) throw new Bit4bitError('stopped', 'the build queue is stopped', 'environment');
    if (this.has(key)) return false;
    if (this.waiting.length >= this.limit) {
      throw new Bit4bitError('queue-full', `the build queue is full (${this.limit} waiting); try again later or raise build.queueLimit`, 'environment');
    }
    this.waiting.push({ key, run });
    this.pump();
    return true;
  }

  /** Resolves when nothing is waiting or running. */
  async idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.controller.abort(new Bit4bitError('stopped', 'node is stopping', 'environment'));
    this.waiting.length = 0;
    await Promise.allSettled([...this.running.values()]);
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      const done = job
        .run(this.controller.signal)
        .catch((e) => this.onError(job.key, e))
        .finally(() => {
          this.running.delete(job.key);
          this.pump();
          if (this.waiting.length === 0 && this.running.size === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
        });
      this.running.set(job.key, done);
    }
  }
}
