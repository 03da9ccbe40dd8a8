/** The routes: each translates HTTP to a TaskService call and the result to the envelope. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../contract/errors.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MetricsAccess } from '../config.js';
import { CANCEL_SUFFIX, EXPAND_PATH, FILES_PATH, HEALTH_PATH, METRICS_PATH, OPENAPI_PATH, READY_PATH } from '../contract/paths.js';
import type { Metrics } from '../metrics/index.js';
import {
  CreatedTask,
  Envelope,
  errorResponses,
  ExpandBody,
  FileParams,
  FileQuery,
  ListQuery,
  Task,
  TaskIdParams,
} from '../contract/schemas.js';
import { presentCreatedTask, presentTask, presentTaskJson } from '../tasks/present.js';
import type { ResultLinks, ResultUrlSigner } from '../tasks/result-urls.js';
import type { TaskService } from '../tasks/service.js';
import type { ReadinessPart } from './app.js';
import { account, AUTH_ERRORS, ok } from './envelope.js';
import { registerTaskEvents } from './task-events.js';
import { toExpandRequest } from './validation.js';

/** Fastify's name for the file route: a wildcard, since keys contain "/". */
export const FILE_ROUTE = `${FILES_PATH}/*`;

interface RouteDeps {
  service: TaskService;
  urls: ResultUrlSigner;
  links: ResultLinks;
  readiness: () => Promise<ReadinessPart[]>;
  /** True once the server began shutting down. */
  isClosing: () => boolean;
  /** Null when metrics are off. */
  metrics: Metrics | null;
  metricsAccess: MetricsAccess;
  /** Comment lines on an idle event stream (default 15 s). */
  eventsHeartbeatMs?: number;
}


export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { service, urls, links } = deps;

  app.post<{ Body: ExpandBody }>(
    EXPAND_PATH,
    {
      config: { auth: true, upload: true },
      schema: {
        summary: 'Create an image expansion task',
        tags: ['expand'],
        security: [{ bearer: [] }],
        body: ExpandBody,
        response: {
          200: Envelope(CreatedTask),
          ...errorResponses(
            ...AUTH_ERRORS,
            'INVALID_REQUEST',
            'INVALID_PARAMETER',
            'TOO_MANY_TASKS',
            'UNAVAILABLE',
          ),
        },
      },
    },
    async (request) => {
      const task = await service.create(account(request), toExpandRequest(request.body));
      // Ties the request id to the task for whoever reads the logs later.
      request.log.info({ request_id: request.id, task_id: task.id, n: task.params.n }, 'task created');
      return ok(request, presentCreatedTask(task));
    },
  );

  app.get<{ Params: TaskIdParams }>(
    `${EXPAND_PATH}/:id`,
    {
      config: { auth: true },
      schema: {
        summary: 'Query one task by task_id, else by external_task_id',
        tags: ['expand'],
        security: [{ bearer: [] }],
        params: TaskIdParams,
        response: { 200: Envelope(Task), ...errorResponses(...AUTH_ERRORS, 'INVALID_PARAMETER', 'NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const task = await service.get(account(request), request.params.id);
      // Polling is the hot path: the task object is spliced in as JSON (kept for finished tasks) rather
      // than serialised again; it is the same object `presentTask` gives, so the schema still holds.
      reply.type('application/json; charset=utf-8');
      return `{"code":0,"message":"SUCCEED","request_id":${JSON.stringify(request.id)},"data":${await presentTaskJson(task, links)}}`;
    },
  );

  // Cancel takes no body: whatever is sent (nothing, `{}`, an empty JSON body) is ignored rather than
  // refused, so that any client's way of making an empty POST works.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.post<{ Params: TaskIdParams }>(
      `${EXPAND_PATH}/:id${CANCEL_SUFFIX}`,
      {
        config: { auth: true },
        schema: {
          summary: 'Cancel a task',
          description:
            'A submitted task never runs; a processing one stops within a second and frees its slots. The task ends ' +
            '`failed` with `task_status_msg` "canceled" (and a callback for that change, when it has a callback_url); ' +
            '`data` is the task after the cancel. A finished task cannot be cancelled: 400 / 1201 ' +
            '`task_id: task … has already finished (…)`. Another account’s task is 404 / 1203.',
          tags: ['expand'],
          security: [{ bearer: [] }],
          params: TaskIdParams,
          response: { 200: Envelope(Task), ...errorResponses(...AUTH_ERRORS, 'INVALID_PARAMETER', 'NOT_FOUND') },
        },
      },
      async (request) => {
        const task = await service.cancel(account(request), request.params.id);
        request.log.info({ request_id: request.id, task_id: task.id }, 'task cancelled');
        return ok(request, await presentTask(task, links));
      },
    );
  });

  registerTaskEvents(app, { service, links, heartbeatMs: deps.eventsHeartbeatMs });

  app.get<{ Querystring: ListQuery }>(
    EXPAND_PATH,
    {
      config: { auth: true },
      schema: {
        summary: 'List tasks, newest first (or query one with ?external_task_id=)',
        description: 'With `external_task_id`, `data` is that one task; otherwise a page of tasks. A short page is the last.',
        tags: ['expand'],
        security: [{ bearer: [] }],
        querystring: ListQuery,
        response: {
          200: Type.Union([Envelope(Task), Envelope(Type.Array(Task))]),
          ...errorResponses(...AUTH_ERRORS, 'INVALID_PARAMETER', 'NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const caller = account(request);
      const { external_task_id: externalTaskId, pageNum = 1, pageSize = 30 } = request.query;
      if (externalTaskId !== undefined) {
        return ok(request, await presentTask(await service.getByExternalId(caller, externalTaskId), links));
      }
      const tasks = await service.list(caller, pageNum, pageSize);
      return ok(request, await Promise.all(tasks.map((t) => presentTask(t, links))));
    },
  );

  app.get<{ Params: { '*': string }; Querystring: FileQuery }>(
    FILE_ROUTE,
    {
      schema: {
        summary: 'A result file, through the signed link found in a task',
        tags: ['files'],
        params: FileParams,
        querystring: FileQuery,
        response: {
          200: { description: 'The image (PNG).', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } },
          ...errorResponses('NO_PERMISSION', 'NOT_FOUND', 'TOO_MANY_REQUESTS'),
        },
      },
    },
    async (request, reply) => {
      const key = request.params['*'];
      const check = urls.verify(key, request.query.expires, request.query.signature);
      if (check === 'invalid') throw new ApiError('NO_PERMISSION', 'no permission: the link is not valid (bad or missing signature)');
      if (check === 'expired') throw new ApiError('NO_PERMISSION', 'no permission: the link has expired');
      const file = await service.readFile(key);
      const maxAge = file.expiresAt === null ? 86_400 : Math.max(0, Math.floor((file.expiresAt - Date.now()) / 1000));
      return reply
        .header('content-type', file.contentType)
        .header('cache-control', `private, max-age=${maxAge}, immutable`)
        .header('x-content-type-options', 'nosniff')
        .send(file.data);
    },
  );

  app.get(
    HEALTH_PATH,
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['ops'],
        response: { 200: Envelope(Type.Object({ status: Type.Literal('ok') })) },
      },
    },
    async (request) => ok(request, { status: 'ok' as const }),
  );

  app.get(
    READY_PATH,
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Readiness: the parts this process has (database writable, blob store writable, engine pool up)',
        description:
          '200 lists the parts, each `ok`. 503 / 5001 names each failing part and why, e.g. ' +
          '`not ready: database: not writable (SQLITE_IOERR_WRITE)`, `engine: starting (0 of 2 threads online)`, ' +
          '`server: shutting down`. An API-only process has no engine part.',
        tags: ['ops'],
        response: {
          200: Envelope(Type.Object({ status: Type.Literal('ready'), parts: Type.Record(Type.String(), Type.Literal('ok')) })),
          ...errorResponses('UNAVAILABLE'),
        },
      },
    },
    async (request) => {
      const parts = [...(await deps.readiness())];
      if (deps.isClosing()) parts.unshift({ name: 'server', problem: 'shutting down' });
      const failing = parts.filter((p) => p.problem !== null);
      if (failing.length > 0) {
        const why = failing.map((p) => `${p.name}: ${p.problem}`).join('; ');
        throw new ApiError('UNAVAILABLE', `not ready: ${why}`, { retryAfterSeconds: 5 });
      }
      return ok(request, { status: 'ready' as const, parts: Object.fromEntries(parts.map((p) => [p.name, 'ok' as const])) });
    },
  );

  const metricsToken = deps.metricsAccess.mode === 'bearer' ? sha256(deps.metricsAccess.token) : null;
  app.get(
    METRICS_PATH,
    {
      config: { rateLimit: false },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Per OUTPAINT_METRICS: `off` (the default) answers 404 / 1203; `open` answers anyone; `bearer:TOKEN` wants ' +
          '`Authorization: Bearer TOKEN` (missing: 401 / 1001, wrong: 401 / 1002). Not the API keys: a token of its own, for the scraper.',
        tags: ['ops'],
        response: {
          200: { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorResponses('AUTH_MISSING', 'AUTH_INVALID', 'NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const { metrics } = deps;
      if (!metrics) throw new ApiError('NOT_FOUND', 'metrics are off on this server (OUTPAINT_METRICS=off)');
      if (metricsToken) {
        const authorization = request.headers.authorization;
        if (!authorization) throw new ApiError('AUTH_MISSING', 'Authorization header missing: /metrics wants the metrics bearer token');
        const given = /^Bearer +(\S+)\s*$/i.exec(authorization)?.[1] ?? '';
        // Compared as digests: constant time, whatever the lengths.
        if (!timingSafeEqual(sha256(given), metricsToken)) throw new ApiError('AUTH_INVALID', 'Authorization invalid: not the metrics token');
      }
      return reply.type(metrics.contentType).send(await metrics.render());
    },
  );

  app.get(
    OPENAPI_PATH,
    {
      config: { rateLimit: false },
      schema: {
        summary: 'This document (OpenAPI 3.1)',
        tags: ['ops'],
        response: {
          200: Type.Object(
            { openapi: Type.String(), info: Type.Object({}, { additionalProperties: true }), paths: Type.Object({}, { additionalProperties: true }) },
            { additionalProperties: true, description: 'The OpenAPI document, generated from the schemas that validate requests.' },
          ),
        },
      },
    },
    async () => app.swagger(),
  );

}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
