/**
 * GET `${EXPAND_PATH}/{id}/events`: a task's changes as Server-Sent Events. Each event is `event: task`,
 * `id:` an opaque version of the task's state and `data:` the task object exactly as query-one's `data`.
 * The task is read from the store a few times a second (tasks/watch.ts), so changes made by a worker in
 * another process are seen. A comment line every 15 s keeps proxies from closing an idle stream. The
 * stream ends after the event that carries a finished status; a reconnect with Last-Event-ID gets only
 * newer states (and a finished task's last event again, then the end).
 *
 * The framing is a few lines written to the raw response (the reply is hijacked): the stream's life is
 * ours to manage (client gone, server closing), which is most of the work and no plugin does it for us.
 */
import type { FastifyInstance } from 'fastify';
import { EVENTS_SUFFIX, EXPAND_PATH, TASK_EVENT } from '../contract/paths.js';
import { errorResponses, EventsHeaders, EventsQuery, TaskIdParams } from '../contract/schemas.js';
import type { TaskRecord } from '../tasks/model.js';
import { presentTaskJson } from '../tasks/present.js';
import type { ResultLinks } from '../tasks/result-urls.js';
import type { TaskService } from '../tasks/service.js';
import { taskVersion } from '../tasks/watch.js';
import { account, AUTH_ERRORS } from './envelope.js';

export interface TaskEventsDeps {
  service: TaskService;
  links: ResultLinks;
  /** How often an idle stream gets a comment line (default 15 s). */
  heartbeatMs?: number;
  /** How often the task is read (default 250 ms). */
  pollMs?: number;
}

/** Event ids are the state's version in base 36 behind a letter: opaque to clients, and cheap to check. */
export function eventId(task: TaskRecord): string {
  return `v${taskVersion(task).toString(36)}`;
}

/** The version a Last-Event-ID names; null when absent or not one of ours (the stream then starts afresh). */
export function versionOfEventId(id: string | undefined): number | null {
  if (!id || !/^v[0-9a-z]{1,4}$/.test(id)) return null;
  return parseInt(id.slice(1), 36);
}

const SERVER_CLOSING = 'server closing';

export function registerTaskEvents(app: FastifyInstance, deps: TaskEventsDeps): void {
  const { service, links } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const open = new Set<AbortController>();
  // Streams never end by themselves while a task runs: a closing server ends them (clients reconnect,
  // with Last-Event-ID, to another node or after the restart) instead of waiting out the shutdown grace.
  app.addHook('preClose', (done) => {
    for (const stream of open) stream.abort(SERVER_CLOSING);
    done();
  });

  app.get<{ Params: TaskIdParams; Querystring: EventsQuery; Headers: EventsHeaders }>(
    `${EXPAND_PATH}/:id${EVENTS_SUFFIX}`,
    {
      // A HEAD would open a stream with no body to carry it.
      exposeHeadRoute: false,
      config: { auth: true, tokenInQuery: true },
      schema: {
        summary: "A task's changes as Server-Sent Events",
        description:
          'Each event is `event: task`, `id:` an opaque string, `data:` the task object (as query-one’s `data`): ' +
          'first the current state, then every status change and progress step (read a few times a second; steps ' +
          'closer together may arrive as one event, the newest). The stream ends after the event with a finished ' +
          'status (`succeed` or `failed`). Reconnecting with `Last-Event-ID` resumes after that event: nothing is ' +
          'sent again unless it is newer, except a finished task, whose last event comes again at once, then the end. ' +
          'A comment line (`: keep-alive`) comes every 15 s. Auth as for query-one, or, for clients that cannot send ' +
          'headers (EventSource), the token as the `access_token` query parameter.',
        tags: ['expand'],
        security: [{ bearer: [] }, { accessToken: [] }],
        params: TaskIdParams,
        querystring: EventsQuery,
        headers: EventsHeaders,
        response: {
          200: {
            description: 'The event stream.',
            content: {
              'text/event-stream': {
                schema: { type: 'string', description: 'event: task\\nid: <opaque>\\ndata: <task object as JSON>\\n\\n, repeated' },
              },
            },
          },
          ...errorResponses(...AUTH_ERRORS, 'INVALID_PARAMETER', 'NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const stop = new AbortController();
      // Before the stream starts, so that an unknown task is an ordinary 1203 answer.
      const updates = await service.watch(account(request), request.params.id, {
        after: versionOfEventId(request.headers['last-event-id']),
        pollMs: deps.pollMs,
        signal: stop.signal,
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx buffers proxied responses unless told not to.
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      res.flushHeaders();
      open.add(stop);
      res.on('close', () => stop.abort());
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      try {
        for await (const task of updates) {
          res.write(`event: ${TASK_EVENT}\nid: ${eventId(task)}\ndata: ${await presentTaskJson(task, links)}\n\n`);
        }
      } catch (err) {
        // The store failed mid-stream: end it; the client reconnects and resumes.
        request.log.error({ request_id: request.id, err }, 'event stream failed');
      } finally {
        clearInterval(heartbeat);
        open.delete(stop);
        res.end();
        // A closing server closes idle connections once, before this stream had ended: close this one now.
        if (stop.signal.reason === SERVER_CLOSING) request.raw.socket.end();
      }
    },
  );
}
