/**
 * The contract's task object (src/contract/schemas.ts, `Task`), built from a stored task. The same
 * object is the `data` of query responses and the body of callbacks, so the two never drift apart.
 */
import type { CreatedTask, Task, TaskImage } from '../contract/schemas.js';
import { isFinished, type TaskRecord } from './model.js';
import type { ResultLinks } from './result-urls.js';

/** Links to results that never expire (a TTL of 0 keeps files forever) still carry an expiry: 9999-12-31. */
const NEVER = Date.UTC(9999, 11, 31);

/** The Unix ms until which a task's result links stay valid: its files' expiry, counted from its finish. */
export function resultExpiry(task: Pick<TaskRecord, 'updatedAt'>, links: Pick<ResultLinks, 'ttlMs'>): number {
  return links.ttlMs > 0 ? task.updatedAt + links.ttlMs : NEVER;
}

// A finished task's view never changes when its links expire at a time fixed by the task (the API's
// signed links), so it is built (and serialised) once per record object; records of finished tasks are
// cached by the task service. Presigned links are made afresh on every read.
const finishedViews = new WeakMap<TaskRecord, Task>();
const finishedJson = new WeakMap<TaskRecord, string>();

const keepable = (task: TaskRecord, links: ResultLinks) => links.stable && isFinished(task.status);

/** The view as JSON, kept for finished tasks: polling a finished task serialises nothing. */
export async function presentTaskJson(task: TaskRecord, links: ResultLinks): Promise<string> {
  const known = finishedJson.get(task);
  if (known !== undefined) return known;
  const json = JSON.stringify(await presentTask(task, links));
  if (keepable(task, links)) finishedJson.set(task, json);
  return json;
}

export async function presentTask(task: TaskRecord, links: ResultLinks): Promise<Task> {
  const known = finishedViews.get(task);
  if (known) return known;
  const view = await buildView(task, links);
  if (keepable(task, links)) finishedViews.set(task, view);
  return view;
}

async function buildView(task: TaskRecord, links: ResultLinks): Promise<Task> {
  const succeeded = task.status === 'succeed';
  const expiresAt = resultExpiry(task, links);
  const images: TaskImage[] = succeeded
    ? await Promise.all(
        [...task.images]
          .sort((a, b) => a.index - b.index)
          .map(async (img) => {
            const view: TaskImage = { index: img.index, url: await links.link(img.key, expiresAt) };
            if (task.params.watermark && img.watermarkKey) view.watermark_url = await links.link(img.watermarkKey, expiresAt);
            return view;
          }),
      )
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
export async function callbackBody(task: TaskRecord, links: ResultLinks): Promise<string | null> {
  return task.params.callbackUrl ? JSON.stringify(await presentTask(task, links)) : null;
}
