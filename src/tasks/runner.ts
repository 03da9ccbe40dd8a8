/**
 * The job runner: claims jobs from the queue, runs the engine, stores the results and moves the task
 * through processing → succeed | failed. Every step is safe to repeat, so a job re-claimed after a crash
 * (its lease ran out) finishes the task without a second callback for a change already recorded.
 *
 * Cancelling is recorded by whoever cancels (the task becomes failed "canceled", wherever the API runs);
 * a running job notices by looking at its task's status a few times a second, or at once through
 * `cancel(taskId)` when the cancel was made in this process, and stops its engine within a step.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ExpandedImage, ExpansionRatios, QualityPreset, RasterImage } from '../engine/types.js';
import { EngineCancelledError } from '../engine/types.js';
import { toRaster } from '../image/decode.js';
import { encodeResult, encodeWatermarked } from '../image/encode.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ClaimedJob, JobQueue } from '../storage/job-queue.js';
import { isStorageFull, type SpaceGuard } from '../storage/space.js';
import type { TaskStore } from '../storage/task-store.js';
import { isFinished, type ResultImage, type TaskRecord } from './model.js';
import { recordStatusChange, type ChangeRequest } from './transition.js';

/** What the runner needs of the engine pool. */
export interface ExpansionEngine {
  expand(
    image: RasterImage,
    ratios: ExpansionRatios,
    options: {
      n: number;
      seed: number;
      quality: QualityPreset;
      signal?: AbortSignal;
      /** Steps done over all n results, out of `total`. */
      onProgress?: (p: { done: number; total: number }) => void;
    },
  ): Promise<ExpandedImage[]>;
}

/** The engine's steps fill the progress up to here; encoding and storing the files take the rest. */
const ENGINE_PROGRESS_SHARE = 95;

export interface RunnerOptions {
  tasks: TaskStore;
  queue: JobQueue;
  blobs: BlobStore;
  engine: ExpansionEngine;
  /** The callback body for a task as it now stands (the contract's task object as JSON). */
  renderCallback: (task: TaskRecord) => Promise<string>;
  /** Called after every recorded status change, e.g. to wake the callback dispatcher. */
  onStatusChange?: () => void;
  logger: Logger;
  /** Jobs run at once; each spreads its n images over the engine's threads. */
  concurrency: number;
  leaseMs: number;
  maxAttempts: number;
  resultTtlMs: number;
  quality: QualityPreset;
  maxPixels: number;
  /** How often to look for work when nothing woke the runner. */
  pollMs?: number;
  /** Shortest time between two progress writes of one job (default 250 ms). */
  progressIntervalMs?: number;
  /** How often a running job reads its task's status, to stop soon after a cancel made anywhere (default 100 ms). */
  cancelPollMs?: number;
  /** Room to store results: no job is claimed while it reports a shortage. */
  space?: SpaceGuard;
  /** After each engine run that produced images: its time and the megapixels made (all n images). */
  onEngineRun?: (seconds: number, megapixels: number) => void;
}

/** After the storage was found full, claiming pauses 1 s, doubling per failure in a row, at most 30 s. */
const FULL_PAUSE_MS = 1000;
const FULL_PAUSE_MAX_MS = 30_000;

/** The abort reason of a job whose task was cancelled (any other abort hands the job back to the queue). */
const CANCELED = 'canceled';

export class JobRunner {
  private readonly workerId = `runner-${randomUUID()}`;
  private readonly active = new Map<string, { taskId: string; done: Promise<void>; abort: AbortController }>();
  private running = false;
  private claiming = false;
  private timer: NodeJS.Timeout | null = null;
  /** Storage-full failures in a row, and no claim before pausedUntil. */
  private fullStreak = 0;
  private pausedUntil = 0;
  private shortageLogged = false;

  constructor(private readonly opts: RunnerOptions) {}

  start(): void {
    this.running = true;
    this.wake();
  }

  /** Look for work now (after a task was created, or a job finished). */
  wake(): void {
    if (!this.running || this.claiming) return;
    this.claiming = true;
    void this.fill()
      .catch((err) => {
        if (isStorageFull(err)) this.storageFull(`claiming a job: ${String((err as Error).message)}`);
        else this.opts.logger.error({ err }, 'claiming jobs failed');
      })
      .finally(() => {
        this.claiming = false;
        this.schedulePoll();
      });
  }

  /** Stops claiming, lets running jobs finish for up to `graceMs`, then hands the rest back to the queue. */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    const all = Promise.allSettled([...this.active.values()].map((a) => a.done));
    const timedOut = await Promise.race([all.then(() => false), delay(graceMs).then(() => true)]);
    if (timedOut) {
      for (const a of this.active.values()) a.abort.abort();
      await all;
    }
  }

  /** Stops the task's job at once if this runner is running it (the cancel was made in this process). */
  cancel(taskId: string): boolean {
    for (const job of this.active.values()) {
      if (job.taskId !== taskId) continue;
      job.abort.abort(CANCELED);
      return true;
    }
    return false;
  }

  get activeJobs(): number {
    return this.active.size;
  }

  private schedulePoll(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Pauses claiming (the storage is full); the jobs already running go on. */
  private storageFull(what: string): void {
    this.fullStreak++;
    const pauseMs = Math.min(FULL_PAUSE_MAX_MS, FULL_PAUSE_MS * 2 ** Math.min(this.fullStreak - 1, 10));
    this.pausedUntil = Date.now() + pauseMs;
    this.opts.logger.error({ cause: what, pauseMs }, 'storage full: no new job for a while; the work is retried once there is room');
  }

  private async fill(): Promise<void> {
    if (this.active.size >= this.opts.concurrency || Date.now() < this.pausedUntil) return;
    const shortage = await this.opts.space?.shortage();
    if (shortage) {
      if (!this.shortageLogged) this.opts.logger.error({ cause: shortage }, 'storage low: no new job until there is room');
      this.shortageLogged = true;
      return;
    }
    if (this.shortageLogged) this.opts.logger.info('storage has room again: jobs resume');
    this.shortageLogged = false;
    while (this.running && this.active.size < this.opts.concurrency) {
      const job = await this.opts.queue.claim(this.workerId, this.opts.leaseMs);
      if (!job) return;
      const abort = new AbortController();
      const done = this.run(job, abort).finally(() => {
        this.active.delete(job.id);
        this.wake();
      });
      this.active.set(job.id, { taskId: job.taskId, done, abort });
    }
  }

  private async run(job: ClaimedJob, abort: AbortController): Promise<void> {
    const { queue, logger } = this.opts;
    const log = logger.child({ jobId: job.id, taskId: job.taskId, attempt: job.attempt });
    const heartbeat = setInterval(() => {
      queue
        .heartbeat(job.id, this.workerId, this.opts.leaseMs)
        .then((mine) => {
          if (!mine) {
            log.warn('lease lost; abandoning the job');
            abort.abort();
          }
        })
        .catch((err) => log.error({ err }, 'heartbeat failed'));
    }, Math.max(250, Math.floor(this.opts.leaseMs / 3)));
    const stopWhenCanceled = this.cancellationWatch(job.taskId, abort, log);
    try {
      const outcome = await this.process(job, abort.signal, log);
      if (outcome === 'released') await queue.release(job.id, this.workerId);
      else await queue.complete(job.id, this.workerId);
      if (outcome === 'done') this.fullStreak = 0;
    } catch (err) {
      if (isStorageFull(err)) {
        // No result was recorded (files are written whole or not at all, and the task changes only after
        // all are stored): hand the job back without counting the attempt, and pause claiming.
        this.storageFull(`job ${job.id} of task ${job.taskId}: ${String((err as Error).message)}`);
        await queue.release(job.id, this.workerId).catch((e: unknown) => {
          log.warn({ cause: String((e as Error).message) }, 'handing the job back failed; it is retried after its lease');
        });
      } else {
        // The job stays leased; its lease runs out and it is claimed again.
        log.error({ err }, 'job failed unexpectedly; it will be retried after its lease');
      }
    } finally {
      clearInterval(heartbeat);
      clearInterval(stopWhenCanceled);
    }
  }

  /** Aborts the job (as cancelled) once its task is finished by someone else: a cancel made in any process. */
  private cancellationWatch(taskId: string, abort: AbortController, log: Logger): NodeJS.Timeout {
    let reading = false;
    return setInterval(() => {
      if (reading || abort.signal.aborted) return;
      reading = true;
      this.opts.tasks
        .getById(taskId)
        .then((task) => {
          if (!task || isFinished(task.status)) abort.abort(CANCELED);
        })
        .catch((err) => log.warn({ err }, 'reading the task status failed'))
        .finally(() => (reading = false));
    }, this.opts.cancelPollMs ?? 100);
  }

  private async process(job: ClaimedJob, signal: AbortSignal, log: Logger): Promise<'done' | 'released'> {
    const { tasks, blobs } = this.opts;
    let task = await tasks.getById(job.taskId);
    if (!task || isFinished(task.status)) return 'done';

    if (job.attempt > this.opts.maxAttempts) {
      await this.change(task, {
        from: ['submitted', 'processing'],
        status: 'failed',
        statusMsg: `processing was interrupted ${job.attempt - 1} ${job.attempt - 1 === 1 ? 'time' : 'times'}; giving up`,
      });
      return 'done';
    }
    if (task.status === 'submitted') {
      // Null when the task left 'submitted' meanwhile (cancelled before it ever ran): read what it is now.
      task = (await this.change(task, { from: ['submitted'], status: 'processing' })) ?? (await tasks.getById(job.taskId));
      if (!task || isFinished(task.status)) return 'done';
    }

    const started = Date.now();
    let engineStarted = started;
    let images: ExpandedImage[];
    try {
      const input = await blobs.get(task.inputKey);
      if (!input) {
        await this.change(task, { from: ['processing'], status: 'failed', statusMsg: 'the input image is no longer stored' });
        return 'done';
      }
      const raster = await toRaster(input.data, this.opts.maxPixels);
      const { up, down, left, right } = task.params;
      engineStarted = Date.now();
      images = await this.opts.engine.expand(
        raster,
        { up, down, left, right },
        { n: task.params.n, seed: task.params.seed ?? seedFor(task.id), quality: this.opts.quality, signal, onProgress: this.progressWriter(task.id, log) },
      );
    } catch (err) {
      if (signal.aborted && signal.reason === CANCELED) return this.stopped(log);
      if (signal.aborted || err instanceof EngineCancelledError) return 'released';
      log.error({ err }, 'expansion failed');
      await this.change(task, {
        from: ['processing'],
        status: 'failed',
        statusMsg: `expansion failed: ${err instanceof Error ? err.message : String(err)}`,
      });
      return 'done';
    }
    const engineMs = Date.now() - engineStarted;
    this.opts.onEngineRun?.(engineMs / 1000, images.reduce((sum, img) => sum + img.width * img.height, 0) / 1e6);
    if (signal.aborted && signal.reason === CANCELED) return this.stopped(log);

    // Files expire with the links that name them: resultTtlMs after the task finished.
    const finishedAt = Math.max(Date.now(), task.updatedAt);
    const expiresAt = this.opts.resultTtlMs > 0 ? finishedAt + this.opts.resultTtlMs : null;
    const results: ResultImage[] = await Promise.all(
      images.map(async (img, index) => {
        const key = `results/${task!.id}/${index}.png`;
        await blobs.put(key, await encodeResult(img), { contentType: 'image/png', expiresAt });
        let watermarkKey: string | null = null;
        if (task!.params.watermark) {
          watermarkKey = `results/${task!.id}/${index}-watermarked.png`;
          await blobs.put(watermarkKey, await encodeWatermarked(img), { contentType: 'image/png', expiresAt });
        }
        return { index, key, watermarkKey };
      }),
    );
    const succeeded = await this.change(task, { from: ['processing'], status: 'succeed', images: results }, finishedAt);
    if (!succeeded) {
      // Cancelled while the files were being written: they belong to no task.
      await Promise.all(results.flatMap((r) => [r.key, r.watermarkKey]).map((key) => key && blobs.delete(key)));
      return this.stopped(log);
    }
    log.info({ engineMs, totalMs: Date.now() - started, n: images.length }, 'task succeeded');
    return 'done';
  }

  private stopped(log: Logger): 'done' {
    log.info('task cancelled; its job stopped');
    return 'done';
  }

  /**
   * Stores the engine's progress as the task's, at most every progressIntervalMs and only when the whole
   * percent rose: polling clients and event streams see it move without a write per engine step.
   */
  private progressWriter(taskId: string, log: Logger): (p: { done: number; total: number }) => void {
    const interval = this.opts.progressIntervalMs ?? 250;
    let stored = 0;
    let lastWrite = 0;
    let failedOnce = false;
    return ({ done, total }) => {
      const percent = total > 0 ? Math.floor((ENGINE_PROGRESS_SHARE * done) / total) : 0;
      const now = Date.now();
      if (percent <= stored || now - lastWrite < interval) return;
      stored = percent;
      lastWrite = now;
      this.opts.tasks.setProgress(taskId, percent).catch((err: unknown) => {
        if (failedOnce) return;
        failedOnce = true;
        log.warn({ cause: String((err as Error).message) }, 'storing progress failed');
      });
    };
  }

  /** Records a status change with its callback (when the task has a callback_url) in one step. */
  private async change(task: TaskRecord, change: ChangeRequest, at?: number): Promise<TaskRecord | null> {
    const updated = await recordStatusChange(this.opts.tasks, task, change, this.opts.renderCallback, at);
    if (updated) this.opts.onStatusChange?.();
    return updated;
  }
}

/** A task that asked for no seed always gets the same one, so a retried job makes the same pictures. */
export function seedFor(taskId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < taskId.length; i++) {
    h ^= taskId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
