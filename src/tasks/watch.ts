/**
 * Following one task as it changes, for the events stream: the task is read from the store a few times
 * a second, so a change made by any process (a worker on another machine) is seen, and each state newer
 * than the last one yielded is yielded once. The sequence ends after a finished task.
 */
import { isFinished, type TaskRecord, type TaskStatus } from './model.js';

const STATUS_RANK: Record<TaskStatus, number> = { submitted: 0, processing: 1, succeed: 2, failed: 2 };

/**
 * The task's state as one number that only grows: status first, then progress (a succeeded task shows 100).
 * Status only moves forward and progress only rises while processing, so a larger version is a newer state.
 */
export function taskVersion(task: Pick<TaskRecord, 'status' | 'progress'>): number {
  const progress = task.status === 'succeed' ? 100 : task.progress;
  return STATUS_RANK[task.status] * 1000 + progress;
}

export interface WatchOptions {
  /** The version of the last state the client has; null for none (the current state comes first). */
  after: number | null;
  /** How often to read the task (default 250 ms). */
  pollMs?: number;
  /** Ends the sequence (the client went away, the server is closing). */
  signal: AbortSignal;
}

/**
 * Yields `first` (unless the client has it already), then every newer state `reload` finds. A finished
 * task is always yielded, even to a client that had it: a reconnect after the end gets the end again.
 * Ends when the task finished, when it is gone, or on `signal`.
 */
export async function* taskUpdates(
  first: TaskRecord,
  reload: () => Promise<TaskRecord | null>,
  options: WatchOptions,
): AsyncGenerator<TaskRecord> {
  const pollMs = options.pollMs ?? 250;
  let last = options.after;
  let task: TaskRecord | null = first;
  while (task && !options.signal.aborted) {
    const version = taskVersion(task);
    if (isFinished(task.status)) {
      yield task;
      return;
    }
    if (last === null || version > last) {
      yield task;
      last = version;
    }
    await sleep(pollMs, options.signal);
    if (options.signal.aborted) return;
    task = await reload();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
