/** The routes of the HTTP API, named once for the server, the link signer, the SDK and the page. */

/** Create (POST), list (GET); `${EXPAND_PATH}/{id}` queries one. */
export const EXPAND_PATH = '/v1/images/editing/expand';
/** POST `${EXPAND_PATH}/{id}${CANCEL_SUFFIX}` cancels a task. */
export const CANCEL_SUFFIX = '/cancel';
/** GET `${EXPAND_PATH}/{id}${EVENTS_SUFFIX}`: the task's Server-Sent Events. */
export const EVENTS_SUFFIX = '/events';
/**
 * The event name on that stream: each event is `event: task`, its `data` the task object exactly as
 * query-one's `data`, its `id` an opaque string to resume after (Last-Event-ID). The stream ends after
 * the event that carries a finished status.
 */
export const TASK_EVENT = 'task';
/**
 * The query parameter that may carry the bearer token on the events route, for clients that cannot set
 * headers (a browser's EventSource); RFC 6750's name for it.
 */
export const ACCESS_TOKEN_PARAM = 'access_token';
/** Result files: `${FILES_PATH}/<key>?expires=…&signature=…` (signed links; no token needed). */
export const FILES_PATH = '/v1/files';
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
/** Prometheus metrics (text exposition format), when OUTPAINT_METRICS allows. */
export const METRICS_PATH = '/metrics';
export const OPENAPI_PATH = '/openapi.json';
/** The web playground (src/web), and its built files beside it. */
export const WEB_PATH = '/';
/** The interactive API reference (Swagger UI) over the OpenAPI document. */
export const DOCS_PATH = '/docs';

/** The path of one task (by task_id or external_task_id). */
export function taskPath(id: string): string {
  return `${EXPAND_PATH}/${encodeURIComponent(id)}`;
}

export function cancelPath(id: string): string {
  return taskPath(id) + CANCEL_SUFFIX;
}

export function eventsPath(id: string): string {
  return taskPath(id) + EVENTS_SUFFIX;
}

/** The path of a blob key under FILES_PATH, each segment percent-encoded (keys contain "/"). */
export function filePath(key: string): string {
  return `${FILES_PATH}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
