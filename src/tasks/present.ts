/**
 * The contract's task object (../shared/kling-api.md, "Query one"), built from a stored task. The same
 * object is the `data` of query responses and the body of callbacks, so the two never drift apart.
 */
import type { TaskRecord, TaskStatus } from '../storage/task-store.js';
import type { ResultUrlSigner } from './result-urls.js';

export interface TaskImageView {
  index: number;
  url: string;
  /** Only when watermarking was asked for. */
  watermark_url?: string;
}

export interface TaskView {
  task_id: string;
  task_status: TaskStatus;
  task_status_msg: string;
  task_info: { external_task_id: string };
  created_at: number;
  updated_at: number;
  /** Images charged, as a string: "0" until the task succeeds. */
  final_unit_deduction: string;
  watermark_info: { enabled: boolean };
  task_result: { images: TaskImageView[] };
}

/** What POST /v1/images/editing/expand answers with. */
export interface CreatedTaskView {
  task_id: string;
  task_status: TaskStatus;
  task_info: { external_task_id: string };
  created_at: number;
  updated_at: number;
}

/** Links to results that never expire (a TTL of 0 keeps files forever) still carry an expiry: 9999-12-31. */
const NEVER = Date.UTC(9999, 11, 31);

/** The Unix ms until which a task's result links stay valid: its files' expiry, counted from its finish. */
export function resultExpiry(task: Pick<TaskRecord, 'updatedAt'>, urls: Pick<ResultUrlSigner, 'ttlMs'>): number {
  return urls.ttlMs > 0 ? task.updatedAt + urls.ttlMs : NEVER;
}

// A finished task's view never changes (its links expire at a time fixed by the task), so it is built
// (and serialised) once per record object; records of finished tasks are cached by the task service.
const finishedViews = new WeakMap<TaskRecord, TaskView>();
const finishedJson = new WeakMap<TaskRecord, string>();

/** The view as JSON, kept for finished tasks: polling a finished task serialises nothing. */
export function presentTaskJson(task: TaskRecord, urls: ResultUrlSigner): string {
  const known = finishedJson.get(task);
  if (known !== undefined) return known;
  const json = JSON.stringify(presentTask(task, urls));
  if (task.status === 'succeed' || task.status === 'failed') finishedJson.set(task, json);
  return json;
}

export function presentTask(task: TaskRecord, urls: ResultUrlSigner): TaskView {
  const finished = task.status === 'succeed' || task.status === 'failed';
  const known = finished ? finishedViews.get(task) : undefined;
  if (known) return known;
  const view = buildView(task, urls);
  if (finished) finishedViews.set(task, view);
  return view;
}

function buildView(task: TaskRecord, urls: ResultUrlSigner): TaskView {
  const succeeded = task.status === 'succeed';
  const expiresAt = resultExpiry(task, urls);
  const images: TaskImageView[] = succeeded
    ? [...task.images]
        .sort((a, b) => a.index - b.index)
        .map((img) => {
          const view: TaskImageView = { index: img.index, url: urls.sign(img.key, expiresAt) };
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
    watermark_info: { enabled: task.params.watermark },
    task_result: { images },
  };
}

export function presentCreatedTask(task: TaskRecord): CreatedTaskView {
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
