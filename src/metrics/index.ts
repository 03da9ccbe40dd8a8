/**
 * Outpaint's Prometheus metrics (prom-client) on a registry of its own, never the global one, so that
 * two servers in one process (as tests run them) keep apart. The parts that know observe: the HTTP layer
 * each request, the job runner each engine run, the callback dispatcher each attempt, the blob-store
 * decorator each write. What the storage holds (tasks by status, the queue, the outbox) is read from it
 * when scraped, so every API node reports the same figures for the shared database: aggregate those
 * with max(), not sum().
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BlobStore } from '../storage/blob-store.js';
import type { CallbackOutbox } from '../storage/callback-outbox.js';
import type { JobQueue } from '../storage/job-queue.js';
import type { TaskStore } from '../storage/task-store.js';
import { RequestMetrics } from './request-metrics.js';

/** What the scrape reads from storage. */
export interface MetricsSources {
  tasks: Pick<TaskStore, 'countByStatus'>;
  queue: Pick<JobQueue, 'queued' | 'oldestWaitingMs'>;
  outbox: Pick<CallbackOutbox, 'pending'>;
}

/** A callback attempt: delivered (2xx), failed (retried later), or failed for the last time (given up). */
export type CallbackOutcome = 'delivered' | 'failed' | 'given_up';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestMetrics(
    this.registry,
    { requests: 'outpaint_http_requests_total', duration: 'outpaint_http_request_duration_seconds' },
    {
      requests: 'HTTP requests answered, by method, route pattern (not the raw URL; "unmatched" for no route) and status',
      duration: 'Time from a request arriving to its answer sent, by method and route pattern',
    },
  );
  private readonly engineSecondsPerMegapixel = new Histogram({
    name: 'outpaint_engine_seconds_per_megapixel',
    help: 'Engine time of a job (all its n images) per megapixel it produced (output width × height × n)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  private readonly callbackAttempts = new Counter({
    name: 'outpaint_callback_deliveries_total',
    help: 'Callback delivery attempts made by this process, by outcome: delivered, failed (to be retried), given_up',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly blobBytesWritten = new Counter({
    name: 'outpaint_blob_written_bytes_total',
    help: 'Bytes this process wrote to the blob store since it started, by kind (inputs, results); not what the store holds now',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    // Read at scrape time. A source that fails leaves its gauge without samples for that scrape
    // (alert on absent()), rather than failing the whole scrape.
    const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => Promise<void>) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          this.reset();
          await read(this).catch(() => this.reset());
        },
      });
    gauge('outpaint_tasks', 'Tasks in the database by status (all accounts)', ['status'], async (g) => {
      for (const [status, n] of Object.entries(await sources.tasks.countByStatus())) g.set({ status }, n);
    });
    gauge('outpaint_queue_depth', 'Jobs waiting to be claimed (queued, or running with an expired lease)', [], async (g) => {
      g.set(await sources.queue.queued());
    });
    gauge('outpaint_queue_oldest_age_seconds', 'How long the oldest waiting job has waited (0 when none)', [], async (g) => {
      g.set(((await sources.queue.oldestWaitingMs()) ?? 0) / 1000);
    });
    gauge('outpaint_callback_outbox_pending', 'Callback deliveries neither delivered nor given up on', [], async (g) => {
      g.set(await sources.outbox.pending());
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }

  observeEngineRun(seconds: number, megapixels: number): void {
    if (megapixels > 0) this.engineSecondsPerMegapixel.observe(seconds / megapixels);
  }

  countCallback(outcome: CallbackOutcome): void {
    this.callbackAttempts.inc({ outcome });
  }

  countBlobWrite(key: string, bytes: number): void {
    this.blobBytesWritten.inc({ kind: key.slice(0, key.indexOf('/')) || 'other' }, bytes);
  }
}

/** The blob store with every put counted (bytes, by the key's first segment). */
export function countBlobWrites(blobs: BlobStore, metrics: Metrics): BlobStore {
  return {
    async put(key, data, meta) {
      await blobs.put(key, data, meta);
      metrics.countBlobWrite(key, data.byteLength);
    },
    get: (key) => blobs.get(key),
    delete: (key) => blobs.delete(key),
    sweepExpired: (now) => blobs.sweepExpired(now),
    checkWritable: () => blobs.checkWritable(),
    close: () => blobs.close(),
  };
}
