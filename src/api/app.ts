/**
 * The HTTP face of Outpaint: Kling's Image Expansion API. This file wires Fastify: request ids, auth,
 * rate limit, validation, the one error handler and the OpenAPI document; routes.ts holds the routes.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import fastifyRateLimit from '@fastify/rate-limit';
import { Semaphore } from 'async-mutex';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator, Caller } from '../accounts/authenticator.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics/index.js';
import { ApiError, ERRORS } from '../contract/errors.js';
import { ACCESS_TOKEN_PARAM, FILES_PATH, READY_PATH } from '../contract/paths.js';
import { FileKeyParams } from '../contract/schemas.js';
import type { RateCounter } from '../storage/rate-counter.js';
import { apiResultLinks, type ResultLinks, type ResultUrlSigner } from '../tasks/result-urls.js';
import type { TaskService } from '../tasks/service.js';
import { megabytes } from '../util/format.js';
import { limitConnectionsPerAddress } from './connections.js';
import { registerApiReference } from './docs.js';
import { FILE_ROUTE, registerRoutes } from './routes.js';
import { compileValidator } from './validation.js';
import { registerWebPage } from './web-page.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set on routes with `config.auth`. */
    caller: Caller | null;
    /** Why authentication failed (an ApiError, or e.g. a database error); thrown after the rate limit counted it. */
    authFailure: unknown;
  }
  interface FastifyContextConfig {
    /** The route needs `Authorization: Bearer …`. */
    auth?: boolean;
    /** The token may come as the `access_token` query parameter instead (for EventSource, which cannot send headers). */
    tokenInQuery?: boolean;
    /** The route's body is an upload (a create): it holds one of OUTPAINT_MAX_UPLOADS while in flight. */
    upload?: boolean;
  }
}

/** What the HTTP layer translates to: it builds none of these itself. */
export interface AppDeps {
  config: Config;
  service: TaskService;
  authenticator: Authenticator;
  /** Checks the links of the file route. */
  urls: ResultUrlSigner;
  /** Makes the links in task views (default: the API's own, signed with `urls`). */
  links?: ResultLinks;
  /** Request counts behind the rate limit (per process, or shared by every node). */
  rateCounter: RateCounter;
  logger: Logger;
  /** What GET /metrics shows and every request is counted in; absent or null when metrics are off. */
  metrics?: Metrics | null;
  /** The certificate and key to serve HTTPS with (PEM); absent: plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  /** The parts GET /readyz reports (database, blobs, engine: those the process has), each with its problem. */
  readiness: () => Promise<ReadinessPart[]>;
  /** Override for tests. */
  rateLimitWindowMs?: number;
  /** Override for tests: how often an idle event stream gets a comment line (default 15 s). */
  eventsHeartbeatMs?: number;
}

/** One part of the process for GET /readyz; `problem` is null when it is fine, else why not ("closing"). */
export interface ReadinessPart {
  name: string;
  problem: string | null;
}

/** The `message` of every successful response, as Kling spells it. */
export const SUCCEED = 'SUCCEED';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  // Slow clients are cut off (408 in the envelope, by answerClientError): the request line and headers
  // must arrive within headersTimeout (slowloris, and connections that never send anything), the whole
  // request within requestTimeout (a body trickled in); Node checks both every connectionsCheckingInterval.
  // With TLS these go to the HTTPS server beside the certificate (Fastify reads `http` only without it).
  const serverOptions = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    maxHeaderSize: config.maxHeaderBytes,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  };
  const app = Fastify({
    ...(deps.tls ? { https: { ...serverOptions, cert: deps.tls.cert, key: deps.tls.key } } : { http: serverOptions }),
    // X-Forwarded-For (the client IP the rate limit counts) is believed only from these proxies.
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: newRequestId,
    // One line per request (the onResponse hook below) instead of Fastify's two: logging is a large share
    // of a cheap request.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    // No child logger per request (it costs more than the rest of a cheap read): the few request logs
    // name their request_id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.maxBodyBytes,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // While closing, a request that still arrives on an open connection is answered in the envelope (the
    // onRequest hook below), not with Fastify's own 503 body; so is HTTP that Node cannot parse.
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Undecodable URLs are refused by the router before any hook: answer them in the envelope too.
    frameworkErrors: (error, request, reply) => {
      (reply as FastifyReply).header('x-request-id', request.id);
      void sendError(error, request, reply as FastifyReply, config.maxBodyBytes);
    },
  }) as unknown as FastifyInstance; // with TLS an https.Server, used as the http.Server it extends

  const { authenticator, service } = deps;
  app.server.maxConnections = config.maxConnections;
  limitConnectionsPerAddress(app.server, config.maxConnectionsPerIp, deps.logger, newRequestId, { tls: Boolean(deps.tls) });

  app.decorateRequest('caller', null);
  app.decorateRequest('authFailure', null);
  app.setValidatorCompiler(compileValidator as Parameters<FastifyInstance['setValidatorCompiler']>[0]);

  // Hooks in callback style: an async hook costs a promise on every request, and these run on all.
  // Successful reads (polls, downloads, health checks) are the bulk of the traffic and say little: they log
  // at debug; everything else (creates, refusals, errors) at info.
  const { metrics } = deps;
  app.addHook('onResponse', (request, reply, done) => {
    metrics?.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    const quiet = request.method === 'GET' && reply.statusCode < 400;
    if (quiet && !deps.logger.isLevelEnabled('debug')) return done();
    request.log[quiet ? 'debug' : 'info'](
      {
        request_id: request.id,
        method: request.method,
        url: withoutAccessToken(request.url),
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
    done();
  });

  // Every answer carries its request id, errors and 404s included. A server that is closing (graceful
  // shutdown) tells a request still arriving on an open connection to come back, and closes it. Then
  // identify the caller first (so the rate limit can count per account), refuse later (so failed logins
  // count too).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    // Requests in flight get the shutdown grace to finish; a client still sending after it (a stalled
    // upload) is cut off, so that closing never waits on a client.
    const cutOff = setTimeout(() => app.server.closeAllConnections(), config.shutdownGraceMs);
    cutOff.unref();
    app.server.once('close', () => clearTimeout(cutOff));
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      // GET /readyz answers for itself (503 naming `server: shutting down` and any other failing part).
      if (request.routeOptions.url !== READY_PATH) {
        return done(new ApiError('UNAVAILABLE', 'the server is shutting down; retry shortly', { retryAfterSeconds: 5 }));
      }
    }
    if (!request.routeOptions.config.auth) return done();
    const authorization = request.headers.authorization ?? bearerFromQuery(request);
    const known = authenticator.cached(authorization);
    if (known) {
      request.caller = known;
      return done();
    }
    authenticator.authenticate(authorization).then(
      (caller) => {
        request.caller = caller;
        done();
      },
      (err: unknown) => {
        request.authFailure = err;
        done();
      },
    );
  });
  // Before the body is read: an unauthenticated caller cannot make us parse 16 MB; and uploads read and
  // judged at once are bounded (their memory is): one more waits its turn, its body unread (TCP holds it
  // back), first come first served.
  const uploadSlots = new Semaphore(config.maxUploads);
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (request.routeOptions.config.auth && !request.caller) {
      return done((request.authFailure as Error | null) ?? new ApiError('AUTH_FAILED'));
    }
    if (!request.routeOptions.config.upload) return done(null, payload);
    let release: (() => void) | null = null;
    let gone = false;
    reply.raw.once('close', () => {
      gone = true;
      release?.();
    });
    void uploadSlots.acquire().then(([, free]) => {
      release = free;
      if (gone) return free(); // the client left while it waited
      done(null, payload);
    });
  });

  const rateWindowMs = deps.rateLimitWindowMs ?? 60_000;
  await app.register(fastifyRateLimit, {
    global: true,
    hook: 'onRequest',
    max: config.rateLimitPerMinute,
    timeWindow: rateWindowMs,
    store: rateLimitStore(deps.rateCounter, rateWindowMs),
    // Rate-limit headers only on a refusal (Retry-After): on every answer they cost more than they tell.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    keyGenerator: (request: FastifyRequest) => (request.caller ? `account:${request.caller.accountId}` : `ip:${request.ip}`),
    // `context.after` is the time left until the window resets, not the window: the message states the
    // limit and its window, and when to come back (also in `retry-after`, in seconds).
    errorResponseBuilder: (request, context) =>
      new ApiError(
        'TOO_MANY_REQUESTS',
        `too many requests: at most ${context.max} per ${describeWindow(rateWindowMs)} for this ` +
          `${request.caller ? 'account' : 'IP address'}; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`,
      ),
  });

  await app.register(fastifySwagger, {
    // Fastify names a wildcard `*`; the document names it for what it is (a key that may contain "/").
    transform: ({ schema, url }) =>
      url === FILE_ROUTE ? { schema: { ...schema, params: FileKeyParams } as typeof schema, url: `${FILES_PATH}/:key` } : { schema, url },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Outpaint',
        version: '1',
        description:
          "Kling AI's Image Expansion API, self-hosted. Every response is `{code, message, request_id, data}`; " +
          'errors carry no `data`. Error codes: ' +
          Object.values(ERRORS)
            .map((e) => `${e.code} (HTTP ${e.status}) ${e.message}`)
            .join('; ') +
          '.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT (HS256, iss = access key) or the secret key itself',
            description: 'A token from `outpaint token --access-key AK` (it asks for the secret key), or the secret key itself.',
          },
          accessToken: {
            type: 'apiKey',
            in: 'query',
            name: ACCESS_TOKEN_PARAM,
            description: 'The bearer token as a query parameter: only on the events route, for EventSource.',
          },
        },
      },
    },
  });

  await registerApiReference(app);

  // Paths and methods of every route, so that a known path asked with the wrong method answers 1202.
  const knownPaths: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(
      '^' +
        route.url
          .split('/')
          .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('/') +
        '/?$',
    );
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const existing = knownPaths.find((p) => p.pattern.source === pattern.source);
    if (existing) methods.forEach((m) => existing.methods.add(m));
    else knownPaths.push({ pattern, methods: new Set(methods) });
  });

  app.setNotFoundHandler(async (request) => {
    const path = request.url.split('?')[0];
    if (knownPaths.some((p) => p.pattern.test(path))) {
      throw new ApiError('WRONG_METHOD', `${request.method} is not supported on ${path}`);
    }
    throw new ApiError('NOT_FOUND', `no route ${request.method} ${path}`);
  });

  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) =>
    sendError(error, request, reply, config.maxBodyBytes),
  );

  const links = deps.links ?? apiResultLinks(deps.urls);
  registerRoutes(app, {
    service,
    urls: deps.urls,
    links,
    readiness: deps.readiness,
    isClosing: () => closing,
    metrics: metrics ?? null,
    metricsAccess: config.metrics,
    eventsHeartbeatMs: deps.eventsHeartbeatMs,
  });
  await registerWebPage(app, { urls: deps.urls, linksOrigin: links.foreignOrigin });
  return app;
}

/** On routes that allow it, the `access_token` query parameter as an Authorization header value. */
function bearerFromQuery(request: FastifyRequest): string | undefined {
  if (!request.routeOptions.config.tokenInQuery) return undefined;
  const token = (request.query as Record<string, unknown>)[ACCESS_TOKEN_PARAM];
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}

const ACCESS_TOKEN_IN_URL = new RegExp(`([?&]${ACCESS_TOKEN_PARAM}=)[^&]*`, 'g');

/** A URL fit for the log: a token in the query is a credential. */
function withoutAccessToken(url: string): string {
  return url.includes(ACCESS_TOKEN_PARAM) ? url.replace(ACCESS_TOKEN_IN_URL, '$1[redacted]') : url;
}

// UUID-shaped request ids: a random prefix per process and a counter, unique without a random draw
// per request (drawing one was a visible share of a cheap read).
const REQUEST_ID_PREFIX = randomUUID().slice(0, 24);
let requestCounter = 0;

function newRequestId(): string {
  return REQUEST_ID_PREFIX + (requestCounter++ % 2 ** 48).toString(16).padStart(12, '0');
}

/** "minute" for 60 000 ms, else e.g. "30 seconds". */
function describeWindow(ms: number): string {
  if (ms === 60_000) return 'minute';
  const seconds = Math.round(ms / 100) / 10;
  return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
}

/**
 * @fastify/rate-limit's store protocol over a RateCounter: the plugin constructs the class and asks each
 * route for a child; every route shares the one counter (the limit is per caller, not per route).
 */
function rateLimitStore(counter: RateCounter, windowMs: number) {
  return class RateCounterStore {
    incr(key: string, done: (err: Error | null, hit?: { current: number; ttl: number }) => void): void {
      counter.hit(key, windowMs).then(
        (hit) => done(null, { current: hit.count, ttl: hit.resetInMs }),
        (err: Error) => done(err),
      );
    }

    child(): this {
      return this;
    }
  };
}

/**
 * Requests Node's HTTP parser refuses (malformed HTTP, headers too large, too slow to arrive) never reach
 * Fastify; they are answered here, in the envelope (1200), and the connection is closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, 'the request is not valid HTTP'];
  const requestId = newRequestId();
  const body = JSON.stringify({ code: ERRORS.INVALID_REQUEST.code, message, request_id: requestId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * The error envelope: the one place errors are logged and answered. Refusals the service means to make
 * (every ApiError: bad input, limits, a full queue, shutting down) log one line without a stack, at info
 * (1xxx) or warn (5xxx, the operator may want to know); a refusal caused by a fault of the machine (the
 * disk is full: the ApiError carries its cause) logs at error, still without a stack; only what nobody
 * meant (any other error, answered 5000) logs at error with its stack.
 */
function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply, maxBodyBytes: number) {
  const apiError = toApiError(error, maxBodyBytes);
  const refusal = { request_id: request.id, code: apiError.code, message: apiError.message };
  if (!(error instanceof ApiError) && apiError.status >= 500) request.log.error({ request_id: request.id, err: error }, 'request failed');
  else if (error instanceof ApiError && error.cause !== undefined) request.log.error({ ...refusal, cause: describeCause(error.cause) }, 'request refused');
  else request.log[apiError.status >= 500 ? 'warn' : 'info'](refusal, 'request refused');
  if (apiError.retryAfterSeconds !== undefined) reply.header('retry-after', String(apiError.retryAfterSeconds));
  return reply.code(apiError.status).send({ code: apiError.code, message: apiError.message, request_id: request.id });
}

/** A refusal's cause for the log: its errno code and message, without the stack. */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code;
  return code && !cause.message.startsWith(code) ? `${code}: ${cause.message}` : cause.message;
}

/** Everything that can go wrong, as a Kling error; nothing internal leaks into the message. */
export function toApiError(error: unknown, maxBodyBytes: number): ApiError {
  if (error instanceof ApiError) return error;
  const e = error as Partial<FastifyError> & { validation?: unknown };
  switch (e.code) {
    case 'FST_ERR_BAD_URL':
      return new ApiError('INVALID_REQUEST', 'the request URL is not valid (bad percent-encoding)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('INVALID_PARAMETER', `body: the request body exceeds ${megabytes(maxBodyBytes)}`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('INVALID_REQUEST', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('INVALID_REQUEST', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('INVALID_REQUEST', 'Content-Type must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('INVALID_REQUEST', 'Content-Length does not match the body');
  }
  if (error instanceof SyntaxError) {
    // secure-json-parse refuses a body with __proto__ or constructor.prototype this way.
    return new ApiError('INVALID_REQUEST', 'the request body is not valid JSON');
  }
  if (e.validation) return new ApiError('INVALID_PARAMETER', e.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError('INVALID_REQUEST');
  }
  return new ApiError('INTERNAL');
}
