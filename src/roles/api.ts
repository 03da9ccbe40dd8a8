/**
 * The API role: the task service and the authenticator over the storage, and the HTTP layer that
 * translates to them. Any number of API roles may share one storage.
 */
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuthenticator } from '../accounts/authenticator.js';
import { buildApp, type ReadinessPart } from '../api/app.js';
import type { Config } from '../config.js';
import { countBlobWrites, type Metrics } from '../metrics/index.js';
import type { SafeHttp } from '../net/safe-http.js';
import type { Storage } from '../storage/storage.js';
import type { ResultLinks, ResultUrlSigner } from '../tasks/result-urls.js';
import { createTaskService } from '../tasks/service.js';
import { readTls } from './tls.js';

export interface ApiRoleDeps {
  config: Config;
  storage: Storage;
  http: SafeHttp;
  /** Checks the API's own file links. */
  urls: ResultUrlSigner;
  /** Makes the links in task views and callbacks (the API's own, or presigned S3 URLs). */
  links: ResultLinks;
  logger: Logger;
  /** The parts GET /readyz reports. */
  readiness: () => Promise<ReadinessPart[]>;
  /** Null when metrics are off (GET /metrics is then 404). */
  metrics: Metrics | null;
  /** A task was admitted: wake this process's worker role, if it has one. */
  onTaskCreated: () => void;
  /** A task was cancelled: stop its job now if this process's worker role runs it. */
  onTaskCanceled?: (taskId: string) => void;
}

export interface ApiRole {
  app: FastifyInstance;
  /** Where it listens, as a URL a browser on this machine can open. */
  listeningUrl: string;
  /** Stops accepting connections and lets requests in flight finish. */
  stop(): Promise<void>;
  /**
   * Re-reads the certificate and key (SIGHUP) for the connections made from now on; a file that cannot
   * be read or a pair that does not match keeps the current one and rejects (a ConfigError naming it).
   * Does nothing without TLS.
   */
  reloadTls(): Promise<void>;
}

export async function startApiRole({
  config,
  storage,
  http,
  urls,
  links,
  logger,
  metrics,
  readiness,
  onTaskCreated,
  onTaskCanceled,
}: ApiRoleDeps): Promise<ApiRole> {
  const service = createTaskService({
    config,
    tasks: storage.tasks,
    blobs: metrics ? countBlobWrites(storage.blobs, metrics) : storage.blobs,
    links,
    http,
    space: storage.space,
    onTaskCreated: () => {
      try {
        onTaskCreated();
      } catch (err) {
        logger.error({ err }, 'onTaskCreated failed');
      }
    },
    onTaskCanceled: (taskId) => {
      try {
        onTaskCanceled?.(taskId);
      } catch (err) {
        logger.error({ err }, 'onTaskCanceled failed');
      }
    },
  });
  const authenticator = createAuthenticator({ keys: storage.keys, skewSeconds: config.tokenSkewSeconds });
  // Read before anything listens: a bad file is a start-up error naming the setting.
  const tls = config.tls ? await readTls(config.tls) : undefined;
  const app = await buildApp({
    config,
    tls,
    service,
    authenticator,
    urls,
    links,
    rateCounter: storage.rateCounter,
    logger,
    metrics,
    readiness,
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  // A wildcard address is not one to open in a browser; loopback reaches it.
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    app,
    listeningUrl: `${tls ? 'https' : 'http'}://${host}:${port}`,
    stop: () => app.close(),
    async reloadTls() {
      if (!config.tls) return;
      (app.server as unknown as HttpsServer).setSecureContext(await readTls(config.tls));
    },
  };
}
