/**
 * Runs the n results of a job in parallel on worker threads (piscina). Progress is counted over all n
 * results; cancellation flips a shared flag the engine checks between steps, so threads stop within a step
 * and stay alive for the next job.
 */
import os from 'node:os';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { plan } from '../engine/index.js';
import {
  EngineCancelledError,
  type EngineProgress,
  type ExpandedImage,
  type ExpansionRatios,
  type QualityPreset,
  type RasterImage,
} from '../engine/types.js';
import { SharedMemoryPool } from './shared-memory.js';
import { HelperState } from './helper.js';
import type { ResultTask, WorkerTask } from './worker.js';

export interface EnginePoolOptions {
  /** Worker threads; default one per core. */
  threads?: number;
  /** Nice value for the worker threads (0–19; higher yields more). A server uses it to keep HTTP responsive. */
  niceness?: number;
}

export interface PoolExpandOptions {
  /** Number of results (1–9); result i uses seed + i. */
  n?: number;
  seed?: number;
  quality?: QualityPreset;
  /** Called at most every `progressIntervalMs` with steps done over all n results. */
  onProgress?: (p: EngineProgress) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

let jobCounter = 0;

export class EnginePool {
  private readonly piscina: Piscina<WorkerTask, Uint8Array>;
  readonly threads: number;
  /** Thread ids of the threads that have started running. */
  private readonly online = new Set<number>();
  private readonly shared: SharedMemoryPool;
  private closing = false;

  constructor(options: EnginePoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? os.availableParallelism()));
    this.shared = new SharedMemoryPool(this.threads);
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      // Each result is seconds of CPU: a queue per thread would only delay other jobs.
      concurrentTasksPerWorker: 1,
      // Results start in the order they were asked for (piscina's default sends a task it could not place
      // to the back of the queue): jobs are served first come first served, and a split last result
      // starts after the results before it, when its helper is about to be free.
      stricterFIFO: true,
      workerData: { niceness: options.niceness ?? 0 },
    });
    // The first threads count once Node says they run ('online'); piscina announces a replacement
    // (after a thread died) only once it is ready, so that one counts at once.
    const first = new Set(this.piscina.threads.map((w: Worker) => w.threadId));
    for (const worker of this.piscina.threads) worker.once('online', () => this.online.add(worker.threadId));
    this.piscina.on('workerCreate', (thread: { id: number }) => {
      if (!first.has(thread.id)) this.online.add(thread.id);
    });
  }

  /** Null when the pool can run work now; otherwise why not: "closing", or "starting (0 of 4 threads online)". */
  problem(): string | null {
    if (this.closing) return 'closing';
    if (!this.piscina.threads.some((w) => this.online.has(w.threadId))) return `starting (0 of ${this.threads} threads online)`;
    return null;
  }

  async expand(image: RasterImage, ratios: ExpansionRatios, options: PoolExpandOptions = {}): Promise<ExpandedImage[]> {
    const n = options.n ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
    const seed = options.seed ?? 0;
    const quality = options.quality ?? 'balanced';
    const { signal, onProgress } = options;
    if (signal?.aborted) throw new EngineCancelledError();
    const layout = plan(image.width, image.height, ratios, quality);

    // The input goes to shared memory once; every worker reads the same bytes. One pooled buffer holds
    // the pixels (unless the caller's are shared already), then the cancel flag and the progress counters.
    const byteLength = image.width * image.height * image.channels;
    const inputShared = image.data.buffer instanceof SharedArrayBuffer;
    const controlOffset = inputShared ? 0 : Math.ceil(byteLength / 4) * 4;
    const memory = this.shared.acquire(controlOffset + 4 * (1 + n));
    let pixels: Uint8Array;
    if (inputShared) {
      pixels = new Uint8Array(image.data.buffer, image.data.byteOffset, byteLength);
    } else {
      pixels = new Uint8Array(memory, 0, byteLength);
      pixels.set(image.data.subarray(0, byteLength));
    }
    const cancelFlag = new Int32Array(memory, controlOffset, 1);
    const progress = new Int32Array(memory, controlOffset + 4, n);
    const onAbort = (): void => {
      Atomics.store(cancelFlag, 0, 1);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const total = layout.steps * n;
    let lastDone = -1;
    const poll = (): void => {
      if (!onProgress) return;
      let done = 0;
      for (let i = 0; i < n; i++) done += Atomics.load(progress, i);
      if (done !== lastDone) {
        lastDone = done;
        onProgress({ done, total, stage: `${done}/${total} steps over ${n} result${n > 1 ? 's' : ''}` });
      }
    };
    const timer = onProgress ? setInterval(poll, options.progressIntervalMs ?? 100) : null;
    timer?.unref();

    const jobId = `${process.pid}-${++jobCounter}`;
    // When the last round of results leaves a thread free, the last result shares its thread with a
    // helper task (worker.ts); n = 1 keeps one thread, so that concurrent one-result jobs each get one.
    const sharedLast = n > 1 && n % this.threads !== 0;
    const helperRuns: Promise<unknown>[] = [];
    const runs = Array.from({ length: n }, (_, index) => {
      const task: ResultTask = {
        kind: 'result',
        jobId,
        index,
        seed: (seed + index) | 0,
        quality,
        ratios,
        width: image.width,
        height: image.height,
        channels: image.channels,
        pixels,
        cancelFlag,
        progress,
      };
      if (!sharedLast || index < n - 1) return this.piscina.run(task);
      const { port1, port2 } = new MessageChannel();
      const state = new Int32Array(new SharedArrayBuffer(4));
      task.helper = { port: port1, state };
      const run = this.piscina.run(task, { transferList: [port1] });
      const help = this.piscina.run({ kind: 'help', port: port2, state }, { transferList: [port2] });
      helperRuns.push(help.catch(() => Atomics.store(state, 0, HelperState.Gone)));
      // However the result ended, its helper stops waiting for it.
      return run.finally(() => Atomics.store(state, 0, HelperState.Finished));
    });
    try {
      const settled = await Promise.allSettled(runs);
      await Promise.allSettled(helperRuns);
      if (signal?.aborted || Atomics.load(cancelFlag, 0) === 1) throw new EngineCancelledError();
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      poll();
      return settled.map((s) => ({
        data: (s as PromiseFulfilledResult<Uint8Array>).value,
        width: layout.width,
        height: layout.height,
        channels: 3 as const,
        x: layout.rect.x0,
        y: layout.rect.y0,
      }));
    } finally {
      if (timer) clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      // Every run has settled (allSettled above): no thread reads this memory any more.
      this.shared.release(memory);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.piscina.close();
  }
}
