/**
 * A real Outpaint API listening on 127.0.0.1 for the HTTP tests: the app from src/api over the embedded
 * storage in a temp directory. No job runner: tasks stay as the tests put them.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createAuthenticator } from '../../src/accounts/authenticator.js';
import { newApiKey } from '../../src/accounts/keys.js';
import type { ApiKeyRecord } from '../../src/accounts/model.js';
import { buildApp } from '../../src/api/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createSafeHttp, type Resolver } from '../../src/net/safe-http.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { openEmbeddedStorage, type Storage } from '../../src/storage/index.js';
import { apiResultLinks, createResultUrlSigner, type ResultUrlSigner } from '../../src/tasks/result-urls.js';
import { createTaskService } from '../../src/tasks/service.js';
import { signToken } from './jwt.js';

export interface TestApi {
  url: string;
  config: Config;
  storage: Storage;
  urls: ResultUrlSigner;
  app: FastifyInstance;
  /** How often onTaskCreated was called. */
  created: number;
  /** Blob keys the app has put and not deleted. */
  liveBlobs: Set<string>;
  /** Makes readiness fail (as if the database were gone). */
  setReady(ready: boolean): void;
  /** A new account with one key. */
  newAccount(): Promise<Account>;
  close(): Promise<void>;
}

export interface Account {
  key: ApiKeyRecord;
  /** A fresh valid JWT for the key. */
  token(): Promise<string>;
}

export interface StartOptions {
  /** Settings as environment variables (OUTPAINT_*), on top of test defaults. */
  env?: Record<string, string>;
  resolver?: Resolver;
  rateLimitWindowMs?: number;
  /** Receives the app's pino log lines (JSON); default: no logging. */
  logLines?: string[];
  /** How often an idle event stream gets a comment line. */
  eventsHeartbeatMs?: number;
}

export async function startApi(options: StartOptions = {}): Promise<TestApi> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'outpaint-api-test-'));
  const config = loadConfig({
    OUTPAINT_DATA_DIR: dataDir,
    OUTPAINT_PORT: '0',
    OUTPAINT_LOG_LEVEL: 'silent',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '',
    ...options.env,
  });
  const storage = openEmbeddedStorage(dataDir);
  const http = createSafeHttp({
    allow: config.allowPrivateHosts,
    connectTimeoutMs: config.connectTimeoutMs,
    resolver: options.resolver,
  });
  let ready = true;
  let publicUrl = 'http://placeholder';
  const signer = createResultUrlSigner({ publicUrl: 'http://unused', secret: Buffer.alloc(32, 7), ttlMs: config.resultTtlMs });
  // The public URL is known only once listening; sign through a late-bound base.
  const urls: ResultUrlSigner = {
    ttlMs: signer.ttlMs,
    sign: (key, expiresAt) => signer.sign(key, expiresAt).replace('http://unused', publicUrl),
    verify: signer.verify,
  };
  const api: TestApi = {
    url: '',
    config,
    storage,
    urls,
    app: undefined as unknown as FastifyInstance,
    created: 0,
    liveBlobs: new Set(),
    setReady: (r) => (ready = r),
    async newAccount() {
      const key = newApiKey('test');
      await storage.keys.create(key);
      return { key, token: () => signToken(key.accessKey, key.secretKey) };
    },
    async close() {
      await api.app.close();
      await http.close();
      await storage.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  // The blobs the app puts and deletes are tracked, so tests can tell that a refusal left no file behind.
  const blobs: BlobStore = {
    get: (key) => storage.blobs.get(key),
    sweepExpired: (now) => storage.blobs.sweepExpired(now),
    checkWritable: () => storage.blobs.checkWritable(),
    close: () => storage.blobs.close(),
    put: async (key, data, meta) => {
      await storage.blobs.put(key, data, meta);
      api.liveBlobs.add(key);
    },
    delete: async (key) => {
      await storage.blobs.delete(key);
      api.liveBlobs.delete(key);
    },
  };
  api.app = await buildApp({
    config,
    service: createTaskService({ config, tasks: storage.tasks, blobs, links: apiResultLinks(urls), http, onTaskCreated: () => void api.created++ }),
    authenticator: createAuthenticator({ keys: storage.keys, skewSeconds: config.tokenSkewSeconds }),
    urls,
    rateCounter: storage.rateCounter,
    logger: options.logLines
      ? pino({ level: 'info' }, { write: (line: string) => void options.logLines!.push(line) })
      : pino({ level: 'silent' }),
    readiness: async () => [{ name: 'database', problem: ready ? null : 'not writable (test)' }],
    rateLimitWindowMs: options.rateLimitWindowMs,
    eventsHeartbeatMs: options.eventsHeartbeatMs,
  });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const address = api.app.server.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  api.url = publicUrl = `http://127.0.0.1:${address.port}`;
  return api;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed body when it is JSON. */
  body: { code: number; message: string; request_id: string; data?: any } & Record<string, any>;
  raw: Buffer;
}

/** One real HTTP request. `body` objects are sent as JSON; strings and Buffers as they are. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | Buffer | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const raw = Buffer.from(await res.arrayBuffer());
  let parsed: any = null;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(raw.toString('utf8'));
  return { status: res.status, headers: res.headers, body: parsed, raw };
}
