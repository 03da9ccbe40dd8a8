/** The routes of the HTTP API, named once for the server, the link signer, the SDK and the page. */

/** Create (POST), list (GET); `${EXPAND_PATH}/{id}` queries one. */
export const EXPAND_PATH = '/v1/images/editing/expand';
/** Result files: `${FILES_PATH}/<key>?expires=…&signature=…` (signed links; no token needed). */
export const FILES_PATH = '/v1/files';
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
export const OPENAPI_PATH = '/openapi.json';

/** The path of one task (by task_id or external_task_id). */
export function taskPath(id: string): string {
  return `${EXPAND_PATH}/${encodeURIComponent(id)}`;
}

/** The path of a blob key under FILES_PATH, each segment percent-encoded (keys contain "/"). */
export function filePath(key: string): string {
  return `${FILES_PATH}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
