import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';

/**
 * Every setting is an environment variable; this table is the single list (the README's settings table
 * mirrors it, and a test keeps the two in step).
 */
export const SETTINGS = {
  OUTPAINT_HOST: { default: '127.0.0.1', help: 'Address the HTTP server listens on.' },
  OUTPAINT_PORT: { default: '8080', help: 'Port the HTTP server listens on (0 picks a free one).' },
  OUTPAINT_DATA_DIR: { default: './data', help: 'Where the embedded database and files live.' },
  OUTPAINT_DATABASE_URL: {
    default: '',
    help:
      'postgres://user[:password]@host:5432/db[?schema=name] selects PostgreSQL + pg-boss (scale-out; schema default outpaint); unset: the embedded SQLite database.',
  },
  OUTPAINT_PUBLIC_URL: { default: '', help: 'Base URL put in result links (default: http://HOST:PORT, https:// with TLS).' },
  OUTPAINT_TLS_CERT: {
    default: '',
    help: 'PEM file of the certificate (and chain) to serve HTTPS with; needs OUTPAINT_TLS_KEY. Both are re-read on SIGHUP.',
  },
  OUTPAINT_TLS_KEY: { default: '', help: 'PEM file of the private key of OUTPAINT_TLS_CERT.' },
  OUTPAINT_TRUST_PROXY: {
    default: '',
    help: 'Comma-separated IPs or CIDRs (or loopback, linklocal, uniquelocal) of reverse proxies whose X-Forwarded-For gives the client IP.',
  },
  OUTPAINT_WORKERS: { default: '0', help: 'Engine worker threads; 0 means one per core.' },
  OUTPAINT_QUALITY: { default: 'balanced', help: 'Engine quality preset: fast, balanced or best.' },
  OUTPAINT_RESULT_TTL_DAYS: { default: '30', help: 'How long result files and their URLs stay valid.' },
  OUTPAINT_SWEEP_INTERVAL_S: {
    default: '3600',
    help: 'How often expired files are deleted; 0 turns the sweep off (e.g. an S3 lifecycle rule deletes them).',
  },
  OUTPAINT_MAX_BODY_MB: { default: '16', help: 'Largest request body (the image itself is capped at 10 MB).' },
  OUTPAINT_MAX_PIXELS: { default: '40000000', help: 'Largest input image in pixels (decompression-bomb guard).' },
  OUTPAINT_DECODE_MEMORY_MB: {
    default: '256',
    help: 'Memory the decodes that judge uploads may use at once; more wait their turn (one larger runs alone).',
  },
  OUTPAINT_MAX_UPLOADS: {
    default: '32',
    help: 'Creates whose body is read and judged at once; more wait their turn, their body unread.',
  },
  OUTPAINT_MIN_FREE_MB: {
    default: '256',
    help: 'Free space the data directory keeps: below it creates are refused (5001) and no new job starts.',
  },
  OUTPAINT_HEADERS_TIMEOUT_S: { default: '20', help: 'Time for a request\'s line and headers to arrive (slowloris guard).' },
  OUTPAINT_REQUEST_TIMEOUT_S: { default: '300', help: 'Time for a whole request, body included, to arrive.' },
  OUTPAINT_KEEPALIVE_TIMEOUT_S: { default: '72', help: 'How long an idle keep-alive connection stays open.' },
  OUTPAINT_MAX_HEADER_KB: { default: '16', help: 'Largest request line plus headers; larger is refused with 431.' },
  OUTPAINT_MAX_CONNECTIONS: { default: '10000', help: 'Open connections at once (keep below the open-file limit).' },
  OUTPAINT_MAX_CONNECTIONS_PER_IP: {
    default: '256',
    help: 'Open connections from one client address; more are refused with 5001 (0: no limit, e.g. behind a proxy).',
  },
  OUTPAINT_ACCOUNT_CONCURRENCY: { default: '9', help: 'Image slots per account (a task holds n) before 1303.' },
  OUTPAINT_RATE_LIMIT: { default: '600', help: 'Requests per account (or IP when unauthenticated) per minute before 1302.' },
  OUTPAINT_MAX_QUEUE: { default: '1000', help: 'Waiting jobs before new tasks are refused with 5001.' },
  OUTPAINT_JOB_LEASE_S: { default: '60', help: 'Lease of a running job; a dead worker\'s job is retried after it.' },
  OUTPAINT_JOB_MAX_ATTEMPTS: { default: '3', help: 'Claims of one job before its task is marked failed.' },
  OUTPAINT_FETCH_TIMEOUT_MS: { default: '15000', help: 'Total time allowed to download an image URL.' },
  OUTPAINT_FETCH_CONNECT_TIMEOUT_MS: { default: '5000', help: 'Connect timeout for image URLs and callbacks.' },
  OUTPAINT_CALLBACK_TIMEOUT_MS: { default: '10000', help: 'Time a callback receiver has to answer.' },
  OUTPAINT_CALLBACK_RETRY_HOURS: { default: '25', help: 'How long failed callbacks are retried (exponential backoff).' },
  OUTPAINT_ALLOW_PRIVATE_HOSTS: {
    default: '',
    help: 'Comma-separated hosts, IPs or CIDRs that image and callback URLs may reach despite the SSRF guard.',
  },
  OUTPAINT_TOKEN_SKEW_S: { default: '10', help: 'Clock skew allowed on JWT exp and nbf.' },
  OUTPAINT_SHUTDOWN_GRACE_S: { default: '30', help: 'On SIGTERM, how long running jobs may finish before they are handed back.' },
  OUTPAINT_S3_BUCKET: {
    default: '',
    help: 'S3 bucket for input images and results (instead of DATA_DIR/blobs); credentials and region from the AWS SDK chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, ~/.aws, roles).',
  },
  OUTPAINT_S3_ENDPOINT: { default: '', help: 'URL of an S3-compatible server (MinIO, Ceph, R2, …); empty: AWS S3 in AWS_REGION.' },
  OUTPAINT_S3_FORCE_PATH_STYLE: {
    default: 'false',
    help: 'true: the bucket goes in the path (http://host/bucket/key), as most S3-compatible servers want.',
  },
  OUTPAINT_S3_PREFIX: { default: '', help: 'Key prefix inside the bucket (e.g. outpaint/), to share a bucket.' },
  OUTPAINT_S3_RESULT_LINKS: {
    default: 'proxied',
    help: 'proxied: result links point at the API, which reads the file from S3; presigned: presigned S3 GET URLs (valid until the result expires, at most 7 days: S3\'s limit).',
  },
  OUTPAINT_LOG_LEVEL: { default: 'info', help: 'pino log level; debug also logs every successful GET.' },
  OUTPAINT_METRICS: {
    default: 'off',
    help: 'GET /metrics (Prometheus): off (404), open, or bearer:TOKEN (16+ characters) to require Authorization: Bearer TOKEN.',
  },
} as const;

export type SettingName = keyof typeof SETTINGS;

/** Blobs in S3 (OUTPAINT_S3_BUCKET set). */
export interface S3Settings {
  bucket: string;
  /** Null: AWS S3 itself. */
  endpoint: string | null;
  forcePathStyle: boolean;
  /** "" or "segment/…/" (ends with "/"). */
  prefix: string;
  /** Where result links point: the API (which reads S3), or presigned S3 URLs. */
  resultLinks: 'proxied' | 'presigned';
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL + pg-boss instead of the embedded database; null: embedded. */
  databaseUrl: string | null;
  publicUrl: string | null;
  workers: number;
  quality: 'fast' | 'balanced' | 'best';
  resultTtlMs: number;
  sweepIntervalMs: number;
  maxBodyBytes: number;
  maxPixels: number;
  decodeMemoryBytes: number;
  maxUploads: number;
  minFreeBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  accountConcurrency: number;
  rateLimitPerMinute: number;
  maxQueuedJobs: number;
  jobLeaseMs: number;
  jobMaxAttempts: number;
  fetchTimeoutMs: number;
  connectTimeoutMs: number;
  callbackTimeoutMs: number;
  callbackRetryMs: number;
  allowPrivateHosts: string[];
  tokenSkewSeconds: number;
  shutdownGraceMs: number;
  /** Null: blobs on the local disk (DATA_DIR/blobs). */
  s3: S3Settings | null;
  logLevel: string;
  /** PEM files to serve HTTPS with; null: plain HTTP. */
  tls: TlsFiles | null;
  /** Addresses and CIDRs (or proxy-addr's names loopback, linklocal, uniquelocal) of trusted proxies. */
  trustProxy: string[];
  metrics: MetricsAccess;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** Who may read GET /metrics. */
export type MetricsAccess = { mode: 'off' } | { mode: 'open' } | { mode: 'bearer'; token: string };

/** A bearer token for /metrics shorter than this is refused: it would be guessable. */
const MIN_METRICS_TOKEN_LENGTH = 16;
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

export class ConfigError extends Error {}

/** The schema in OUTPAINT_DATABASE_URL's `?schema=` goes into SQL unquoted: a plain lower-case identifier. */
export const DATABASE_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Refuses what cannot be a PostgreSQL URL (the message never repeats the URL: it may hold a password). */
function checkDatabaseUrl(url: string): void {
  const expected = 'expected postgres://user[:password]@host:5432/database[?schema=name]';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`OUTPAINT_DATABASE_URL is not a URL: ${expected}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`OUTPAINT_DATABASE_URL: ${parsed.protocol}// is not PostgreSQL: ${expected}`);
  }
  const schema = parsed.searchParams.get('schema');
  if (schema !== null && !DATABASE_SCHEMA_NAME.test(schema)) {
    throw new ConfigError(`OUTPAINT_DATABASE_URL: schema=${schema}: expected a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const str = (name: SettingName): string => {
    const v = env[name];
    return v === undefined || v === '' ? SETTINGS[name].default : v;
  };
  const num = (name: SettingName, min: number, integer = true): number => {
    const raw = str(name);
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new ConfigError(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
    }
    return v;
  };
  const quality = str('OUTPAINT_QUALITY');
  if (quality !== 'fast' && quality !== 'balanced' && quality !== 'best') {
    throw new ConfigError(`OUTPAINT_QUALITY=${quality}: expected fast, balanced or best`);
  }
  const bool = (name: SettingName): boolean => {
    const raw = str(name).toLowerCase();
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ConfigError(`${name}=${str(name)}: expected true or false`);
  };
  const workers = num('OUTPAINT_WORKERS', 0);
  const databaseUrl = str('OUTPAINT_DATABASE_URL') || null;
  if (databaseUrl !== null) checkDatabaseUrl(databaseUrl);
  if (num('OUTPAINT_HEADERS_TIMEOUT_S', 1, false) > num('OUTPAINT_REQUEST_TIMEOUT_S', 1, false)) {
    throw new ConfigError('OUTPAINT_HEADERS_TIMEOUT_S must not exceed OUTPAINT_REQUEST_TIMEOUT_S');
  }
  function s3Settings(): S3Settings {
    const bucket = str('OUTPAINT_S3_BUCKET');
    // S3's bucket naming rules (3–63 of a-z 0-9 . -; dots allow older buckets); the server judges the rest.
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError(`OUTPAINT_S3_BUCKET=${bucket}: expected an S3 bucket name (3–63 characters of a-z, 0-9, ".", "-")`);
    }
    const endpoint = str('OUTPAINT_S3_ENDPOINT');
    if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) {
      throw new ConfigError(`OUTPAINT_S3_ENDPOINT=${endpoint}: expected an http:// or https:// URL`);
    }
    let prefix = str('OUTPAINT_S3_PREFIX');
    if (prefix && !prefix.endsWith('/')) prefix += '/';
    if (prefix && (!/^([A-Za-z0-9._-]+\/)+$/.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..'))) {
      throw new ConfigError(`OUTPAINT_S3_PREFIX=${str('OUTPAINT_S3_PREFIX')}: expected "/"-separated segments of A-Z a-z 0-9 . _ -`);
    }
    const resultLinks = str('OUTPAINT_S3_RESULT_LINKS');
    if (resultLinks !== 'proxied' && resultLinks !== 'presigned') {
      throw new ConfigError(`OUTPAINT_S3_RESULT_LINKS=${resultLinks}: expected proxied or presigned`);
    }
    return { bucket, endpoint: endpoint.replace(/\/+$/, '') || null, forcePathStyle: bool('OUTPAINT_S3_FORCE_PATH_STYLE'), prefix, resultLinks };
  }
  return {
    ...networkSettings(str),
    host: str('OUTPAINT_HOST'),
    port: num('OUTPAINT_PORT', 0),
    dataDir: path.resolve(str('OUTPAINT_DATA_DIR')),
    databaseUrl,
    publicUrl: str('OUTPAINT_PUBLIC_URL').replace(/\/+$/, '') || null,
    workers: workers === 0 ? Math.max(1, os.availableParallelism()) : workers,
    quality,
    resultTtlMs: num('OUTPAINT_RESULT_TTL_DAYS', 0, false) * 86_400_000,
    sweepIntervalMs: num('OUTPAINT_SWEEP_INTERVAL_S', 0, false) * 1000,
    maxBodyBytes: Math.round(num('OUTPAINT_MAX_BODY_MB', 1, false) * 1024 * 1024),
    maxPixels: num('OUTPAINT_MAX_PIXELS', 90_000),
    decodeMemoryBytes: Math.round(num('OUTPAINT_DECODE_MEMORY_MB', 1, false) * 1024 * 1024),
    maxUploads: num('OUTPAINT_MAX_UPLOADS', 1),
    minFreeBytes: Math.round(num('OUTPAINT_MIN_FREE_MB', 0, false) * 1024 * 1024),
    headersTimeoutMs: Math.round(num('OUTPAINT_HEADERS_TIMEOUT_S', 1, false) * 1000),
    requestTimeoutMs: Math.round(num('OUTPAINT_REQUEST_TIMEOUT_S', 1, false) * 1000),
    keepAliveTimeoutMs: Math.round(num('OUTPAINT_KEEPALIVE_TIMEOUT_S', 1, false) * 1000),
    maxHeaderBytes: Math.round(num('OUTPAINT_MAX_HEADER_KB', 1, false) * 1024),
    maxConnections: num('OUTPAINT_MAX_CONNECTIONS', 1),
    maxConnectionsPerIp: num('OUTPAINT_MAX_CONNECTIONS_PER_IP', 0),
    accountConcurrency: num('OUTPAINT_ACCOUNT_CONCURRENCY', 1),
    rateLimitPerMinute: num('OUTPAINT_RATE_LIMIT', 1),
    maxQueuedJobs: num('OUTPAINT_MAX_QUEUE', 1),
    jobLeaseMs: num('OUTPAINT_JOB_LEASE_S', 1, false) * 1000,
    jobMaxAttempts: num('OUTPAINT_JOB_MAX_ATTEMPTS', 1),
    fetchTimeoutMs: num('OUTPAINT_FETCH_TIMEOUT_MS', 1),
    connectTimeoutMs: num('OUTPAINT_FETCH_CONNECT_TIMEOUT_MS', 1),
    callbackTimeoutMs: num('OUTPAINT_CALLBACK_TIMEOUT_MS', 1),
    callbackRetryMs: num('OUTPAINT_CALLBACK_RETRY_HOURS', 0, false) * 3_600_000,
    allowPrivateHosts: str('OUTPAINT_ALLOW_PRIVATE_HOSTS')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    tokenSkewSeconds: num('OUTPAINT_TOKEN_SKEW_S', 0),
    shutdownGraceMs: num('OUTPAINT_SHUTDOWN_GRACE_S', 0, false) * 1000,
    s3: str('OUTPAINT_S3_BUCKET') ? s3Settings() : null,
    logLevel: str('OUTPAINT_LOG_LEVEL'),
  };
}

/** TLS, trusted proxies and metrics access: settings checked beyond a number's range. */
function networkSettings(str: (name: SettingName) => string): Pick<Config, 'tls' | 'trustProxy' | 'metrics'> {
  const cert = str('OUTPAINT_TLS_CERT');
  const key = str('OUTPAINT_TLS_KEY');
  if (Boolean(cert) !== Boolean(key)) {
    const [set, missing] = cert ? ['OUTPAINT_TLS_CERT', 'OUTPAINT_TLS_KEY'] : ['OUTPAINT_TLS_KEY', 'OUTPAINT_TLS_CERT'];
    throw new ConfigError(`${missing} is not set: HTTPS needs both OUTPAINT_TLS_CERT and OUTPAINT_TLS_KEY (${set} is set)`);
  }
  const trustProxy = str('OUTPAINT_TRUST_PROXY')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of trustProxy) {
    if (!PROXY_RANGE_NAMES.includes(entry) && !ipaddr.isValid(entry) && !isCidr(entry)) {
      throw new ConfigError(`OUTPAINT_TRUST_PROXY: ${JSON.stringify(entry)} is not an IP address, a CIDR or one of ${PROXY_RANGE_NAMES.join(', ')}`);
    }
  }
  return { tls: cert ? { certFile: path.resolve(cert), keyFile: path.resolve(key) } : null, trustProxy, metrics: metricsAccess(str('OUTPAINT_METRICS')) };
}

function isCidr(s: string): boolean {
  try {
    ipaddr.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}

function metricsAccess(raw: string): MetricsAccess {
  if (raw === 'off' || raw === 'open') return { mode: raw };
  if (raw.startsWith('bearer:')) {
    const token = raw.slice('bearer:'.length);
    if (token.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(token)) {
      throw new ConfigError(`OUTPAINT_METRICS: the bearer token must be at least ${MIN_METRICS_TOKEN_LENGTH} characters without spaces (it has ${token.length})`);
    }
    return { mode: 'bearer', token };
  }
  throw new ConfigError('OUTPAINT_METRICS: expected off, open or bearer:TOKEN');
}
