/**
 * The domain's model of a task: what the store keeps, the runner moves through its states and the
 * presenter shows. Storage adapters import these types; they define none of their own.
 */
import type { ExpansionRatios } from '../contract/rules.js';

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

/** A finished task never changes again (no status leaves 'succeed' or 'failed'). */
export function isFinished(status: TaskStatus): boolean {
  return status === 'succeed' || status === 'failed';
}

/** What the client asked for, after validation. */
export interface ExpandParams extends ExpansionRatios {
  n: number;
  prompt: string | null;
  watermark: boolean;
  callbackUrl: string | null;
  /** The seed asked for; null (or absent, in tasks stored before it existed) when the task's id picks it. */
  seed?: number | null;
}

/** One result image: blob keys, turned into signed URLs when a task is shown. */
export interface ResultImage {
  index: number;
  key: string;
  watermarkKey: string | null;
}

export interface TaskRecord {
  id: string;
  accountId: string;
  externalTaskId: string | null;
  status: TaskStatus;
  /** Why the task failed; empty otherwise. */
  statusMsg: string;
  params: ExpandParams;
  /** Blob key of the validated input image (PNG or JPEG bytes as received). */
  inputKey: string;
  inputWidth: number;
  inputHeight: number;
  images: ResultImage[];
  /**
   * How far the work is, 0–100, only ever rising while the task is processing (a succeeded task reads
   * 100 whatever was stored). Not a status change: it moves neither updatedAt nor a callback.
   */
  progress: number;
  /** Unix milliseconds. */
  createdAt: number;
  updatedAt: number;
}

/** A task as admitted, before the store gives it its status. */
export type NewTask = Omit<TaskRecord, 'status' | 'statusMsg' | 'images' | 'progress' | 'updatedAt'>;
