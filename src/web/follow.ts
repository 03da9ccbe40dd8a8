/**
 * Following a task live: the events stream (EventSource, the token in the URL since EventSource cannot
 * send headers), each event the task object. The browser reconnects by itself after a network blip,
 * sending Last-Event-ID so that nothing is missed; when the server refuses a reconnect (a token that
 * expired meanwhile), a new stream is opened with a new token. A stream that cannot be had at all is
 * reported, never left silent.
 */
import { TASK_EVENT } from '../contract/paths.js';
import type { Task } from '../contract/schemas.js';
import { ApiFailure, type OutpaintClient } from './client.js';

export interface FollowHandlers {
  onTask(task: Task): void;
  onLost(failure: ApiFailure): void;
}

const MAX_REOPENS = 5;

export function isFinished(task: Pick<Task, 'task_status'>): boolean {
  return task.task_status === 'succeed' || task.task_status === 'failed';
}

/** Starts following; the returned function stops. It stops by itself after a finished task. */
export function followTask(client: OutpaintClient, taskId: string, handlers: FollowHandlers): () => void {
  let source: EventSource | null = null;
  let stopped = false;
  let reopens = 0;
  const stop = (): void => {
    stopped = true;
    source?.close();
  };
  const deliver = (task: Task): void => {
    if (stopped) return;
    handlers.onTask(task);
    if (isFinished(task)) stop();
  };
  const open = async (): Promise<void> => {
    if (stopped) return;
    source = new EventSource(await client.eventsUrl(taskId));
    source.addEventListener(TASK_EVENT, (e) => {
      reopens = 0;
      deliver(JSON.parse((e as MessageEvent<string>).data) as Task);
    });
    source.addEventListener('error', () => {
      // While CONNECTING the browser is retrying by itself; CLOSED means the server said no.
      if (stopped || source?.readyState !== EventSource.CLOSED) return;
      source.close();
      // Ask the API why, in words (and show where the task is meanwhile).
      client.get(taskId).then(
        (task) => {
          deliver(task);
          if (stopped) return;
          if (++reopens > MAX_REOPENS) handlers.onLost(new ApiFailure('lost the live connection to the server; refresh the task from the list', 0, 0));
          else setTimeout(() => void open(), 500 * reopens);
        },
        (err: ApiFailure) => {
          stop();
          handlers.onLost(err);
        },
      );
    });
  };
  open().catch((err: unknown) => handlers.onLost(err instanceof ApiFailure ? err : new ApiFailure(String(err), 0, 0)));
  return stop;
}
