/**
 * A status change and its callback, recorded in one store step: the runner moves tasks through their
 * states with it, the service cancels with it, so both record the same callback for the same change.
 */
import type { StatusChange, TaskStore } from '../storage/task-store.js';
import type { TaskRecord } from './model.js';

export type ChangeRequest = Omit<StatusChange, 'at' | 'callbackBody'>;

/**
 * Applies `change` when the task is in one of `change.from`; the callback body (for a task with a
 * callback_url) is the task as it stands after the change. Null when the task was not in `from`.
 */
export async function recordStatusChange(
  tasks: Pick<TaskStore, 'updateStatus'>,
  task: TaskRecord,
  change: ChangeRequest,
  renderCallback: (task: TaskRecord) => Promise<string | null>,
  at = Math.max(Date.now(), task.updatedAt),
): Promise<TaskRecord | null> {
  const next: TaskRecord = {
    ...task,
    status: change.status,
    statusMsg: change.statusMsg ?? '',
    images: change.images ?? task.images,
    updatedAt: at,
  };
  const callbackBody = task.params.callbackUrl ? await renderCallback(next) : null;
  return tasks.updateStatus(task.id, { ...change, at, callbackBody });
}
