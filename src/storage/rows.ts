/** Rows of the SQL backends' tables (SQLite and PostgreSQL name their columns alike) and their domain records. */
import { createHash } from 'node:crypto';
import type { ApiKeyRecord } from '../accounts/model.js';
import type { ResultImage, TaskRecord, TaskStatus } from '../tasks/model.js';
import type { CallbackDelivery } from './callback-outbox.js';

export interface TaskRow {
  id: string;
  account_id: string;
  external_task_id: string | null;
  status: TaskStatus;
  status_msg: string;
  params: string;
  input_key: string;
  input_width: number;
  input_height: number;
  images: string;
  progress: number;
  created_at: number;
  updated_at: number;
}

export function taskFromRow(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    externalTaskId: r.external_task_id,
    status: r.status,
    statusMsg: r.status_msg,
    params: JSON.parse(r.params),
    inputKey: r.input_key,
    inputWidth: r.input_width,
    inputHeight: r.input_height,
    images: JSON.parse(r.images) as ResultImage[],
    progress: r.progress,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface CallbackRow {
  id: string;
  task_id: string;
  account_id: string;
  url: string;
  body: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
}

export function callbackFromRow(r: CallbackRow): CallbackDelivery {
  return {
    id: r.id,
    taskId: r.task_id,
    accountId: r.account_id,
    url: r.url,
    body: r.body,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
  };
}

export interface KeyRow {
  access_key: string;
  secret_key: string;
  webhook_secret: string;
  account_id: string;
  name: string;
  created_at: number;
  revoked_at: number | null;
}

export function keyFromRow(r: KeyRow): ApiKeyRecord {
  return {
    accessKey: r.access_key,
    secretKey: r.secret_key,
    webhookSecret: r.webhook_secret,
    accountId: r.account_id,
    name: r.name,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
