/**
 * Task logic behind the HTTP routes: admitting a task (image obtained, judged and stored; limits checked
 * atomically by the store), finding one, listing, cancelling, following one as it changes. The routes
 * only translate HTTP to these calls.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { ApiError, invalidParameter } from '../contract/errors.js';
import { LIMITS, type ExpansionRatios } from '../contract/rules.js';
import { decodeImage, type DecodedImage } from '../image/decode.js';
import { createDecodeGate } from '../image/decode-gate.js';
import { OutboundRequestError, type SafeHttp } from '../net/safe-http.js';
import type { Blob, BlobStore } from '../storage/blob-store.js';
import { isStorageFull, type SpaceGuard } from '../storage/space.js';
import type { CreateRefusal, TaskStore } from '../storage/task-store.js';
import { LruCache } from '../util/lru.js';
import { isFinished, type NewTask, type TaskRecord } from './model.js';
import { callbackBody } from './present.js';
import type { ResultLinks } from './result-urls.js';
import { recordStatusChange } from './transition.js';
import { taskUpdates, type WatchOptions } from './watch.js';

export type ImageSource = { kind: 'url'; url: string } | { kind: 'base64'; bytes: Buffer };

/** A create request that passed every rule that needs no download or decode. */
export interface ExpandRequest {
  image: ImageSource;
  ratios: ExpansionRatios;
  n: number;
  prompt: string | null;
  watermark: boolean;
  callbackUrl: string | null;
  externalTaskId: string | null;
  seed: number | null;
}

export interface TaskServiceDeps {
  config: Pick<Config, 'accountConcurrency' | 'maxQueuedJobs' | 'maxPixels' | 'decodeMemoryBytes' | 'fetchTimeoutMs' | 'resultTtlMs'>;
  tasks: TaskStore;
  blobs: BlobStore;
  /** Links in callback bodies. */
  links: ResultLinks;
  /** Downloads image URLs (SSRF-guarded); also judges callback URLs that are IP literals. */
  http: Pick<SafeHttp, 'fetchImage' | 'checkUrl'>;
  /** Room to store inputs; below its floor creates are refused with 5001. */
  space?: SpaceGuard;
  /** Called after a task was admitted: wakes the job runner and the callback dispatcher. */
  onTaskCreated: () => void;
  /**
   * Called after a task was cancelled: stops its job at once if this process runs it, and wakes the
   * callback dispatcher. (A job running elsewhere sees the cancel in its task's status within a poll.)
   */
  onTaskCanceled?: (taskId: string) => void;
  now?: () => number;
}

export interface TaskService {
  create(accountId: string, request: ExpandRequest): Promise<TaskRecord>;
  /** By task id, else by the account's external_task_id; 1203 when neither. */
  get(accountId: string, id: string): Promise<TaskRecord>;
  getByExternalId(accountId: string, externalTaskId: string): Promise<TaskRecord>;
  list(accountId: string, pageNum: number, pageSize: number): Promise<TaskRecord[]>;
  /** A result file for a verified signed link; 1203 when gone. Only result blobs are served. */
  readFile(key: string): Promise<Blob>;
  /**
   * Cancels a submitted or processing task: it ends failed with task_status_msg "canceled" (with its
   * callback), which frees its slots; a submitted one never runs. 1203 when not the account's; 1201 when
   * it has finished already.
   */
  cancel(accountId: string, id: string): Promise<TaskRecord>;
  /** The task's states from now on (see taskUpdates); 1203, before anything is yielded, when not the account's. */
  watch(accountId: string, id: string, options: WatchOptions): Promise<AsyncIterable<TaskRecord>>;
}

/** The task_status_msg of a cancelled task. */
export const CANCELED_MESSAGE = 'canceled';

const INPUT_MIN_KEEP_MS = 7 * 86_400_000;
const FINISHED_CACHE_ENTRIES = 10_000;

/** Unguessable and URL-safe: 128 random bits in base64url (22 characters). */
export function newTaskId(): string {
  return randomBytes(16).toString('base64url');
}

export function createTaskService(deps: TaskServiceDeps): TaskService {
  const now = deps.now ?? Date.now;
  // One budget for every create of this process: judging uploads never decodes more than it at once.
  const decodeGate = createDecodeGate(deps.config.decodeMemoryBytes);

  const obtainImage = async (request: ExpandRequest): Promise<DecodedImage> => {
    let bytes: Buffer;
    if (request.image.kind === 'base64') {
      bytes = request.image.bytes;
    } else {
      try {
        bytes = await deps.http.fetchImage(request.image.url, {
          timeoutMs: deps.config.fetchTimeoutMs,
          maxBytes: LIMITS.maxImageBytes,
        });
      } catch (err) {
        throw err instanceof OutboundRequestError ? downloadFailure(err) : err;
      }
    }
    return decodeImage(bytes, { maxPixels: deps.config.maxPixels, gate: decodeGate });
  };

  const notFound = (what: string) => new ApiError('NOT_FOUND', `${what} does not exist`);
  // A finished task never changes again: clients polling it are answered from memory.
  const finished = new LruCache<string, TaskRecord>(FINISHED_CACHE_ENTRIES);

  const findTask = async (accountId: string, id: string): Promise<TaskRecord> => {
    const cacheKey = `${accountId}\n${id}`;
    const cached = finished.get(cacheKey);
    if (cached) return cached;
    const task = await deps.tasks.getByIdOrExternalId(accountId, id);
    if (!task) throw notFound(`task ${id}`);
    if (isFinished(task.status)) finished.set(cacheKey, task);
    return task;
  };

  return {
    async create(accountId, request) {
      if (request.callbackUrl) {
        try {
          deps.http.checkUrl(request.callbackUrl);
        } catch (err) {
          throw invalidParameter('callback_url', (err as Error).message);
        }
      }
      const shortage = await deps.space?.shortage();
      if (shortage) throw storageFull(new Error(shortage));
      // Cheap early answer; the store checks again atomically.
      if (request.externalTaskId && (await deps.tasks.getByExternalId(accountId, request.externalTaskId))) {
        throw refusal('duplicate_external_task_id', request.externalTaskId);
      }
      const image = await obtainImage(request);

      const id = newTaskId();
      const inputKey = `inputs/${id}`;
      const contentType = image.format === 'png' ? 'image/png' : 'image/jpeg';
      // The sweep removes inputs long after any task could still need them (a week at least).
      const keepMs = Math.max(deps.config.resultTtlMs, INPUT_MIN_KEEP_MS);
      try {
        await deps.blobs.put(inputKey, image.bytes, {
          contentType,
          expiresAt: deps.config.resultTtlMs > 0 ? now() + keepMs : null,
        });
      } catch (err) {
        throw isStorageFull(err) ? storageFull(err) : err;
      }
      try {
        const createdAt = now();
        const newTask: NewTask = {
          id,
          accountId,
          externalTaskId: request.externalTaskId,
          params: {
            ...request.ratios,
            n: request.n,
            prompt: request.prompt,
            watermark: request.watermark,
            callbackUrl: request.callbackUrl,
            seed: request.seed,
          },
          inputKey,
          inputWidth: image.width,
          inputHeight: image.height,
          createdAt,
        };
        const submitted: TaskRecord = { ...newTask, status: 'submitted', statusMsg: '', images: [], progress: 0, updatedAt: createdAt };
        const result = await deps.tasks.create(
          newTask,
          { maxAccountSlots: deps.config.accountConcurrency, maxQueuedJobs: deps.config.maxQueuedJobs },
          await callbackBody(submitted, deps.links),
        );
        if (!result.ok) throw refusal(result.reason, request.externalTaskId);
        deps.onTaskCreated();
        return result.task;
      } catch (err) {
        await deps.blobs.delete(inputKey).catch(() => undefined);
        throw isStorageFull(err) ? storageFull(err) : err;
      }
    },

    get: findTask,

    async getByExternalId(accountId, externalTaskId) {
      const task = await deps.tasks.getByExternalId(accountId, externalTaskId);
      if (!task) throw notFound(`task with external_task_id ${externalTaskId}`);
      return task;
    },

    list: (accountId, pageNum, pageSize) => deps.tasks.list(accountId, { pageNum, pageSize }),

    async cancel(accountId, id) {
      const task = await deps.tasks.getByIdOrExternalId(accountId, id);
      if (!task) throw notFound(`task ${id}`);
      if (isFinished(task.status)) throw alreadyFinished(task);
      const canceled = await recordStatusChange(
        deps.tasks,
        task,
        { from: ['submitted', 'processing'], status: 'failed', statusMsg: CANCELED_MESSAGE },
        (next) => callbackBody(next, deps.links),
        Math.max(now(), task.updatedAt),
      );
      if (!canceled) {
        // It finished between the read and the change.
        const current = await deps.tasks.getById(task.id);
        throw alreadyFinished(current ?? task);
      }
      deps.onTaskCanceled?.(task.id);
      return canceled;
    },

    async watch(accountId, id, options) {
      const first = await findTask(accountId, id);
      return taskUpdates(first, () => deps.tasks.get(accountId, first.id), options);
    },

    async readFile(key) {
      // Signed links are only ever minted for results; refuse anything else even if signed.
      const blob = key.startsWith('inputs/') ? null : await deps.blobs.get(key);
      if (!blob) throw notFound('file');
      return blob;
    },
  };
}

function alreadyFinished(task: TaskRecord): ApiError {
  const how = task.status === 'failed' && task.statusMsg ? `${task.status}: ${task.statusMsg}` : task.status;
  return invalidParameter('task_id', `task ${task.id} has already finished (${how}); only a submitted or processing task can be cancelled`);
}

function refusal(reason: CreateRefusal, externalTaskId: string | null): ApiError {
  switch (reason) {
    case 'duplicate_external_task_id':
      return invalidParameter('external_task_id', `${externalTaskId} is already used by another task of this account`);
    case 'account_slots_full':
      return new ApiError(
        'TOO_MANY_TASKS',
        'too many tasks running at once for this account (each task holds n slots); retry when one finishes',
      );
    case 'queue_full':
      return new ApiError('UNAVAILABLE', 'the task queue is full; retry later', { retryAfterSeconds: 10 });
  }
}

/** 5001 with the fault as its cause (logged at error, without a stack): the server recovers by itself. */
function storageFull(cause: unknown): ApiError {
  return new ApiError('UNAVAILABLE', "the server's storage is full; retry later", { cause, retryAfterSeconds: 30 });
}

function downloadFailure(e: OutboundRequestError): ApiError {
  switch (e.reason) {
    case 'blocked':
      return invalidParameter('image', `URL refused: ${e.message}`);
    case 'bad_url':
      return invalidParameter('image', `URL ${e.message}`);
    case 'too_large':
      return invalidParameter('image', `download ${e.message}`);
    default:
      return invalidParameter('image', `could not be downloaded: ${e.message}`);
  }
}
