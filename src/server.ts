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
import { createSafeHttp } from './net/safe-http.js';
import { startApiRole, type ApiRole } from './roles/api.js';
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
    let publicUrl = config.publicUrl ?? `http://${config.host}:${config.port}`;
    let signer = signerFor(publicUrl);
    const urls: ResultUrlSigner = {
      ttlMs: config.resultTtlMs,
      sign: (key, expiresAt) => signer.sign(key, expiresAt),
      verify: (key, expires, signature, now) => signer.verify(key, expires, signature, now),
    };
    // Result links: presigned S3 URLs when the storage makes them, else the API's own (which also
    // stay valid when presigning is turned on: the file route keeps serving them).
    const links: ResultLinks = storage.blobLinks ? blobStoreResultLinks(storage.blobLinks, config.resultTtlMs) : apiResultLinks(urls);

    let worker: WorkerRole | null = null;
    let api: ApiRole | null = null;
    if (roles.api) {
      api = await startApiRole({
        config,
        storage,
        http,
        urls,
        links,
        logger,
        onTaskCreated: () => worker?.wake(),
        onTaskCanceled: (taskId) => worker?.cancel(taskId),
      });
      cleanups.push(() => api!.stop());
      publicUrl = config.publicUrl ?? api.listeningUrl;
      signer = signerFor(publicUrl);
    }
    if (roles.worker) worker = startWorkerRole({ config, storage, http, links, logger });

    let closing: Promise<void> | null = null;
    return {
      url: publicUrl,
      storage,
      firstKey,
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
