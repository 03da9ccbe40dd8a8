/**
 * The composition root: storage, engine pool, job runner, callback dispatcher, expiry sweep and the
 * HTTP API, wired from one Config. `close()` shuts down in the order that loses nothing: stop accepting
 * requests, let running jobs finish (or hand them back), flush callbacks, close the pool and storage.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { destination, pino, type Logger } from 'pino';
import { newApiKey } from './accounts/keys.js';
import { buildApp } from './api/app.js';
import { CallbackDispatcher } from './callbacks/index.js';
import type { Config } from './config.js';
import { EnginePool } from './engine-pool/index.js';
import { createSafeHttp } from './net/safe-http.js';
import { openStorage, type Storage } from './storage/open.js';
import type { ApiKeyRecord } from './storage/task-store.js';
import { callbackBody } from './tasks/present.js';
import { createResultUrlSigner, loadOrCreateUrlSecret, type ResultUrlSigner } from './tasks/result-urls.js';
import { JobRunner } from './tasks/runner.js';

/** Engine threads run below the HTTP thread's priority: health checks and reads stay fast under load. */
const ENGINE_NICENESS = 10;

export interface Outpaint {
  url: string;
  storage: Storage;
  /** The key created on the very first start (no key in the database yet), else null. */
  firstKey: ApiKeyRecord | null;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

export async function startOutpaint(config: Config, options: StartOptions = {}): Promise<Outpaint> {
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
    if ((await storage.tasks.listKeys()).length === 0) {
      firstKey = newApiKey('first key');
      await storage.tasks.createKey(firstKey);
    }

    const http = createSafeHttp({ allow: config.allowPrivateHosts, connectTimeoutMs: config.connectTimeoutMs });
    cleanups.push(() => http.close());
    const pool = new EnginePool({ threads: config.workers, niceness: ENGINE_NICENESS });
    cleanups.push(() => pool.close());

    // With port 0 the public URL is known only once listening: links are signed through `signer`,
    // which is replaced then.
    const secret = await loadOrCreateUrlSecret(config.dataDir);
    const signerFor = (publicUrl: string) => createResultUrlSigner({ publicUrl, secret, ttlMs: config.resultTtlMs });
    let signer = signerFor(config.publicUrl ?? `http://${config.host}:${config.port}`);
    const urls: ResultUrlSigner = {
      ttlMs: config.resultTtlMs,
      sign: (key, expiresAt) => signer.sign(key, expiresAt),
      verify: (key, expires, signature, now) => signer.verify(key, expires, signature, now),
    };

    const dispatcher = new CallbackDispatcher({
      store: storage.tasks,
      deliver: (url, headers, body, opts) => http.post(url, headers, body, opts),
      timeoutMs: config.callbackTimeoutMs,
      // An attempt never outlives its timeout, so a crashed dispatcher's claims come back soon after.
      leaseMs: config.callbackTimeoutMs + 5000,
      retryForMs: config.callbackRetryMs,
      logger: logger.child({ component: 'callbacks' }),
    });
    const runner = new JobRunner({
      tasks: storage.tasks,
      queue: storage.queue,
      blobs: storage.blobs,
      engine: pool,
      renderCallback: (task) => callbackBody(task, urls) ?? '',
      onStatusChange: () => dispatcher.wake(),
      logger: logger.child({ component: 'runner' }),
      concurrency: config.workers,
      leaseMs: config.jobLeaseMs,
      maxAttempts: config.jobMaxAttempts,
      resultTtlMs: config.resultTtlMs,
      quality: config.quality,
      maxPixels: config.maxPixels,
    });

    const app = await buildApp({
      config,
      tasks: storage.tasks,
      blobs: storage.blobs,
      http,
      urls,
      logger,
      onTaskCreated: () => {
        runner.wake();
        dispatcher.wake();
      },
      ready: () => storage.tasks.pendingCallbacks(),
    });
    cleanups.push(() => app.close());
    await app.listen({ host: config.host, port: config.port });
    const { port } = app.server.address() as AddressInfo;
    // A wildcard address is not one to open in a browser; loopback reaches it.
    const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
    const publicUrl = config.publicUrl ?? `http://${host}:${port}`;
    signer = signerFor(publicUrl);

    dispatcher.start();
    runner.start();
    const sweep = setInterval(() => {
      storage.blobs
        .sweepExpired(Date.now())
        .then((n) => n > 0 && logger.info({ deleted: n }, 'expired files deleted'))
        .catch((err) => logger.error({ err }, 'expiry sweep failed'));
    }, config.sweepIntervalMs);
    sweep.unref();

    let closing: Promise<void> | null = null;
    return {
      url: publicUrl,
      storage,
      firstKey,
      close: () =>
        (closing ??= (async () => {
          clearInterval(sweep);
          clearInterval(logFlush);
          await app.close();
          await runner.stop(config.shutdownGraceMs);
          await dispatcher.stop();
          await pool.close();
          await http.close();
          await storage.close();
        })()),
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    throw err;
  }
}
