/**
 * The worker role: the engine pool, the job runner that feeds it, the callback dispatcher and the expiry
 * sweep. It serves no HTTP; any number of worker roles (processes, machines) may share one storage.
 */
import type { Logger } from 'pino';
import { CallbackDispatcher } from '../callbacks/index.js';
import type { Config } from '../config.js';
import { EnginePool } from '../engine-pool/index.js';
import type { SafeHttp } from '../net/safe-http.js';
import type { Storage } from '../storage/storage.js';
import { callbackBody } from '../tasks/present.js';
import type { ResultLinks } from '../tasks/result-urls.js';
import { countBlobWrites, type Metrics } from '../metrics/index.js';
import { JobRunner } from '../tasks/runner.js';

/** Engine threads run below the HTTP thread's priority: health checks and reads stay fast under load. */
const ENGINE_NICENESS = 10;

export interface WorkerRoleDeps {
  config: Config;
  storage: Storage;
  http: SafeHttp;
  /** Links in callback bodies. */
  links: ResultLinks;
  logger: Logger;
  /** Null when metrics are off. */
  metrics: Metrics | null;
}

export interface WorkerRole {
  /** Look for new jobs and due callbacks now (a task was created in this process). */
  wake(): void;
  /** A task was cancelled in this process: stop its job now if it runs here, and send the callback. */
  cancel(taskId: string): void;
  /** Stops claiming, lets running jobs finish for up to the grace (then hands them back), flushes callbacks. */
  stop(): Promise<void>;
  /** For readiness: null when the engine pool takes work, else why not ("closing" once stop() began). */
  engineProblem(): string | null;
}

export function startWorkerRole({ config, storage, http, links, logger, metrics }: WorkerRoleDeps): WorkerRole {
  const pool = new EnginePool({ threads: config.workers, niceness: ENGINE_NICENESS });
  const dispatcher = new CallbackDispatcher({
    outbox: storage.outbox,
    keys: storage.keys,
    deliver: (url, headers, body, opts) => http.post(url, headers, body, opts),
    timeoutMs: config.callbackTimeoutMs,
    // An attempt never outlives its timeout, so a crashed dispatcher's claims come back soon after.
    leaseMs: config.callbackTimeoutMs + 5000,
    retryForMs: config.callbackRetryMs,
    logger: logger.child({ component: 'callbacks' }),
    onAttempt: metrics ? (outcome) => metrics.countCallback(outcome) : undefined,
  });
  const runner = new JobRunner({
    tasks: storage.tasks,
    queue: storage.queue,
    blobs: metrics ? countBlobWrites(storage.blobs, metrics) : storage.blobs,
    engine: pool,
    renderCallback: async (task) => (await callbackBody(task, links)) ?? '',
    onStatusChange: () => dispatcher.wake(),
    logger: logger.child({ component: 'runner' }),
    concurrency: config.workers,
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.jobMaxAttempts,
    resultTtlMs: config.resultTtlMs,
    quality: config.quality,
    maxPixels: config.maxPixels,
    space: storage.space,
    onEngineRun: metrics ? (seconds, megapixels) => metrics.observeEngineRun(seconds, megapixels) : undefined,
  });

  dispatcher.start();
  runner.start();
  // 0 turns the sweep off (an S3 lifecycle rule deletes expired objects instead).
  const sweep =
    config.sweepIntervalMs > 0
      ? setInterval(() => {
          storage.blobs
            .sweepExpired(Date.now())
            .then((n) => n > 0 && logger.info({ deleted: n }, 'expired files deleted'))
            .catch((err) => logger.error({ err }, 'expiry sweep failed'));
        }, config.sweepIntervalMs)
      : null;
  sweep?.unref();

  let stopping = false;
  return {
    engineProblem: () => (stopping ? 'closing' : pool.problem()),
    wake() {
      runner.wake();
      dispatcher.wake();
    },
    cancel(taskId) {
      runner.cancel(taskId);
      dispatcher.wake();
    },
    async stop() {
      stopping = true;
      if (sweep) clearInterval(sweep);
      await runner.stop(config.shutdownGraceMs);
      await dispatcher.stop();
      await pool.close();
    },
  };
}
