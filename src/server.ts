/**
 * The composition root: storage, the shared outbound HTTP client and result-link signer, and the roles a
 * process runs, wired from one Config. `serve` runs the API role and the worker role together; a worker
 * process runs the worker role alone. `close()` shuts down in the order that loses nothing: stop
 * accepting requests, let running jobs finish (or hand them back), flush callbacks, close storage.
 */
import { mkdir } from 'node:fs/promises';
import { destination, pino, type Logger } from 'pino';
import { newApiKey } from './accounts/keys.js';
import type { ApiKeyRecord } from './accounts/model.js';
import type { Config } from './config.js';
import { Metrics } from './metrics/index.js';
import { createSafeHttp } from './net/safe-http.js';
import { startApiRole, type ApiRole } from './roles/api.js';
import { Readiness, writable } from './roles/readiness.js';
import { startWorkerRole, type WorkerRole } from './roles/worker.js';
import { openStorage } from './storage/open.js';
import type { Storage } from './storage/storage.js';
import {
  apiResultLinks,
  blobStoreResultLinks,
  createResultUrlSigner,
  resultUrlSecret,
  type ResultLinks,
  type ResultUrlSigner,
} from './tasks/result-urls.js';

export interface Outpaint {
  /** The public base URL (result links start with it). */
  url: string;
  storage: Storage;
  /** The key created on the very first start of an API (no key in the database yet), else null. */
  firstKey: ApiKeyRecord | null;
  /**
   * Re-reads the TLS certificate and key for new connections (SIGHUP). A bad file keeps the current
   * pair: logged as an error, and the promise still resolves (false); true once the new pair is in use.
   */
  reloadTls(): Promise<boolean>;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Which roles this process runs; default both. */
  roles?: { api: boolean; worker: boolean };
}

export async function startOutpaint(config: Config, options: StartOptions = {}): Promise<Outpaint> {
  const roles = options.roles ?? { api: true, worker: true };
  // Buffered asynchronous writes keep the log off the request path (one write per 4 KB, not per line);
  // a timer flushes quiet periods, and pino flushes what is left on exit.
  const logger = options.logger ?? pino({ level: config.logLevel }, destination({ sync: false, minLength: 4096 }));
  const logFlush = setInterval(() => logger.flush(), 1000);
  logFlush.unref();
  await mkdir(config.dataDir, { recursive: true });
  const storage = await openStorage(config);
  // Everything opened so far is closed again if a later step fails.
  const cleanups: (() => Promise<void>)[] = [() => storage.close()];
  try {
    let firstKey: ApiKeyRecord | null = null;
    if (roles.api && (await storage.keys.list()).length === 0) {
      firstKey = newApiKey('first key');
      await storage.keys.create(firstKey);
    }

    const http = createSafeHttp({ allow: config.allowPrivateHosts, connectTimeoutMs: config.connectTimeoutMs });
    cleanups.push(() => http.close());

    // With port 0 the public URL is known only once listening: links are signed through `signer`,
    // which is replaced then.
    const secret = await resultUrlSecret(storage.secrets);
    const signerFor = (publicUrl: string) => createResultUrlSigner({ publicUrl, secret, ttlMs: config.resultTtlMs });
    let publicUrl = config.publicUrl ?? `${config.tls ? 'https' : 'http'}://${config.host}:${config.port}`;
    let signer = signerFor(publicUrl);
    const urls: ResultUrlSigner = {
      ttlMs: config.resultTtlMs,
      sign: (key, expiresAt) => signer.sign(key, expiresAt),
      verify: (key, expires, signature, now) => signer.verify(key, expires, signature, now),
    };
    // Result links: presigned S3 URLs when the storage makes them, else the API's own (which also
    // stay valid when presigning is turned on: the file route keeps serving them).
    const links: ResultLinks = storage.blobLinks ? blobStoreResultLinks(storage.blobLinks, config.resultTtlMs) : apiResultLinks(urls);

    // Off: nothing is measured (no cost per request), and GET /metrics is 404.
    const metrics = config.metrics.mode === 'off' ? null : new Metrics(storage);

    let worker: WorkerRole | null = null;
    let api: ApiRole | null = null;
    // The parts this process has: an API-only process lists no engine. The engine is "starting" until the
    // worker role exists (the API listens first) and its threads are online.
    const readiness = new Readiness(logger.child({ component: 'readiness' }));
    readiness.add('database', writable(() => storage.checkWritable()));
    readiness.add('blobs', writable(() => storage.blobs.checkWritable()));
    if (roles.worker) {
      readiness.add('engine', async () => {
        const problem = worker ? worker.engineProblem() : 'starting';
        if (problem) throw new Error(problem);
      });
    }
    if (roles.api) {
      api = await startApiRole({
        config,
        storage,
        http,
        urls,
        links,
        logger,
        metrics,
        readiness: () => readiness.parts(),
        onTaskCreated: () => worker?.wake(),
        onTaskCanceled: (taskId) => worker?.cancel(taskId),
      });
      cleanups.push(() => api!.stop());
      publicUrl = config.publicUrl ?? api.listeningUrl;
      signer = signerFor(publicUrl);
    }
    if (roles.worker) worker = startWorkerRole({ config, storage, http, links, logger, metrics });

    let closing: Promise<void> | null = null;
    return {
      url: publicUrl,
      storage,
      firstKey,
      async reloadTls() {
        if (!api || !config.tls) return false;
        try {
          await api.reloadTls();
          logger.info({ cert: config.tls.certFile }, 'TLS certificate reloaded');
          return true;
        } catch (err) {
          logger.error({ cause: (err as Error).message }, 'TLS reload failed; the current certificate stays in use');
          return false;
        }
      },
      close: () =>
        (closing ??= (async () => {
          clearInterval(logFlush);
          await api?.stop();
          await worker?.stop();
          await http.close();
          await storage.close();
        })()),
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    throw err;
  }
}
