/**
 * The contract's task object (src/contract/schemas.ts, `Task`), built from a stored task. The same
 * object is the `data` of query responses and the body of callbacks, so the two never drift apart.
 */
import type { CreatedTask, Task, TaskImage } from '../contract/schemas.js';
import { isFinished, type TaskRecord } from './model.js';
import type { ResultUrlSigner } from './result-urls.js';

/** Links to results that never expire (a TTL of 0 keeps files forever) still carry an expiry: 9999-12-31. */
const NEVER = Date.UTC(9999, 11, 31);

/** The Unix ms until which a task's result links stay valid: its files' expiry, counted from its finish. */
export function resultExpiry(task: Pick<TaskRecord, 'updatedAt'>, urls: Pick<ResultUrlSigner, 'ttlMs'>): number {
  return urls.ttlMs > 0 ? task.updatedAt + urls.ttlMs : NEVER;
}

// A finished task's view never changes (its links expire at a time fixed by the task), so it is built
// (and serialised) once per record object; records of finished tasks are cached by the task service.
const finishedViews = new WeakMap<TaskRecord, Task>();
const finishedJson = new WeakMap<TaskRecord, string>();

/** The view as JSON, kept for finished tasks: polling a finished task serialises nothing. */
export function presentTaskJson(task: TaskRecord, urls: ResultUrlSigner): string {
  const known = finishedJson.get(task);
  if (known !== undefined) return known;
  const json = JSON.stringify(presentTask(task, urls));
  if (isFinished(task.status)) finishedJson.set(task, json);
  return json;
}

export function presentTask(task: TaskRecord, urls: ResultUrlSigner): Task {
  const finished = isFinished(task.status);
  const known = finished ? finishedViews.get(task) : undefined;
  if (known) return known;
  const view = buildView(task, urls);
  if (finished) finishedViews.set(task, view);
  return view;
}

function buildView(task: TaskRecord, urls: ResultUrlSigner): Task {
  const succeeded = task.status === 'succeed';
  const expiresAt = resultExpiry(task, urls);
  const images: TaskImage[] = succeeded
    ? [...task.images]
        .sort((a, b) => a.index - b.index)
        .map((img) => {
          const view: TaskImage = { index: img.index, url: urls.sign(img.key, expiresAt) };
          if (task.params.watermark && img.watermarkKey) view.watermark_url = urls.sign(img.watermarkKey, expiresAt);
          return view;
        })
    : [];
  return {
    task_id: task.id,
    task_status: task.status,
    task_status_msg: task.status === 'failed' ? task.statusMsg : '',
    task_info: { external_task_id: task.externalTaskId ?? '' },
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    final_unit_deduction: succeeded ? String(images.length) : '0',
    task_progress: succeeded ? 100 : task.progress,
    watermark_info: { enabled: task.params.watermark },
    task_result: { images },
  };
}

export function presentCreatedTask(task: TaskRecord): CreatedTask {
  return {
    task_id: task.id,
    task_status: task.status,
    task_info: { external_task_id: task.externalTaskId ?? '' },
    created_at: task.createdAt,
    updated_at: task.updatedAt,
  };
}

/** The callback body for a task in its current state (the task object, no envelope). */
export function callbackBody(task: TaskRecord, urls: ResultUrlSigner): string | null {
  return task.params.callbackUrl ? JSON.stringify(presentTask(task, urls)) : null;
}
