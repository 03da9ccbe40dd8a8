/** Builders shared by the storage contracts and the callback tests. */
import { randomUUID } from 'node:crypto';
import type { ApiKeyRecord } from '../../src/accounts/model.js';
import type { openStorage } from '../../src/storage/open.js';
import type { DatabaseBackend } from '../../src/storage/storage.js';
import type { AdmissionLimits, TaskStore } from '../../src/storage/task-store.js';
import type { NewTask } from '../../src/tasks/model.js';

/**
 * What a backend hands the contracts: a fresh, empty database backend, and the configuration with which
 * `openStorage` opens the same data again from another thread or process.
 */
export interface TaskBackend extends DatabaseBackend {
  storageConfig: Parameters<typeof openStorage>[0];
}

export const ROOMY: AdmissionLimits = { maxAccountSlots: 1000, maxQueuedJobs: 1000 };

let clock = Date.UTC(2026, 0, 1);

/** A new task; each call gets a fresh id and a later createdAt than the previous one. */
export function newTask(overrides: Partial<NewTask> & { n?: number; callbackUrl?: string | null } = {}): NewTask {
  const { n, callbackUrl, ...rest } = overrides;
  return {
    id: `task_${randomUUID()}`,
    accountId: 'acct_a',
    externalTaskId: null,
    params: {
      up: 0.5,
      down: 0,
      left: 0.25,
      right: 0.25,
      n: n ?? 1,
      prompt: 'a wider view',
      watermark: false,
      callbackUrl: callbackUrl === undefined ? null : callbackUrl,
    },
    inputKey: `inputs/${randomUUID()}.png`,
    inputWidth: 640,
    inputHeight: 480,
    createdAt: (clock += 1000),
    ...rest,
  };
}

export function newKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  const id = randomUUID().replaceAll('-', '');
  return {
    accessKey: `ak${id}`,
    secretKey: `sk${id}`,
    webhookSecret: `whsec_${Buffer.from(id).toString('base64')}`,
    accountId: 'acct_a',
    name: 'test key',
    createdAt: (clock += 1000),
    revokedAt: null,
    ...overrides,
  };
}

/** Creates a task that must be admitted. */
export async function createOk(tasks: TaskStore, task: NewTask, callbackBody: string | null = null) {
  const result = await tasks.create(task, ROOMY, callbackBody);
  if (!result.ok) throw new Error(`create refused: ${result.reason}`);
  return result.task;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
