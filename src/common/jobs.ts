// Periodic background work (retention, object compaction, garbage collection): each job runs on
// its own interval and never overlaps itself; a failure is logged and retried on the next tick.
import type { Logger } from '../common/logger.ts';

interface Job {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  timer: NodeJS.Timeout | null;
  running: Promise<unknown> | null;
}

export class Jobs {
  private readonly jobs: Job[] = [];
  private readonly log: Logger;
  private stopped = false;
  private paused: boolean;

  /** `paused`: jobs added wait for start() (the broker starts them once links have marked their mirrors). */
  constructor(log: Logger, o: { paused?: boolean } = {}) {
    this.log = log;
    this.paused = o.paused ?? false;
  }

  /** Schedules the jobs added while paused. */
  start(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const j of this.jobs) if (!j.timer && !j.running) this.schedule(j);
  }

  add(name: string, intervalMs: number, run: () => Promise<unknown>): void {
    const job: Job = { name, intervalMs, run, timer: null, running: null };
    this.jobs.push(job);
    this.schedule(job);
  }

  private schedule(job: Job): void {
    if (this.stopped || this.paused) return;
    job.timer = setTimeout(() => void this.runOnce(job), job.intervalMs);
    job.timer.unref();
  }

  private async runOnce(job: Job): Promise<void> {
    job.running = job.run().catch((err) => this.log.warn('background job failed', { job: job.name, err: err as Error }));
    await job.running;
    job.running = null;
    this.schedule(job);
  }

  /** Runs a job now (tests use it instead of waiting for its interval). */
  async runNow(name: string): Promise<void> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`no job ${name}`);
    while (job.running) await job.running;
    await job.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) if (j.timer) clearTimeout(j.timer);
    await Promise.all(this.jobs.map((j) => j.running));
  }
}
