/**
 * The wire types as Kling's Image Expansion API defines them (../shared/kling-api.md), so that the SDK
 * works against Kling's cloud as well as Outpaint: Outpaint's own fields are optional. Plain interfaces,
 * not the contract's TypeBox schemas, so that a consumer's compiler needs nothing but this package; a
 * test holds the contract's types assignable to these.
 */

export type TaskStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

/** The body of a create (`POST /v1/images/editing/expand`). */
export interface ExpandRequest {
  /**
   * An http(s) URL, or the image's bytes: a Uint8Array is sent as raw base64 for you; a string that is
   * not a URL must already be raw base64 with no `data:` prefix. JPEG or PNG, ≤ 10 MB, sides ≥ 300 px.
   */
  image: string | Uint8Array;
  /** Multiples of the original height (up, down) or width (left, right), each in [0, 2]; missing is 0. */
  up_expansion_ratio?: number;
  down_expansion_ratio?: number;
  left_expansion_ratio?: number;
  right_expansion_ratio?: number;
  prompt?: string;
  /** 1 to 9 images; default 1. */
  n?: number;
  watermark_info?: { enabled: boolean };
  /** Notified (POST, signed; see verifyWebhook) on every status change. */
  callback_url?: string;
  /** Your own id, unique within the account; also makes retried creates safe (see the client's docs). */
  external_task_id?: string;
  /** Outpaint only: the same image, ratios and seed give the same pictures. */
  seed?: number;
}

/** What a create answers with. */
export interface CreatedTask {
  task_id: string;
  task_status: TaskStatus;
  task_info: { external_task_id?: string };
  created_at: number;
  updated_at: number;
}

export interface TaskImage {
  index: number;
  url: string;
  /** Only when watermarking was asked for. */
  watermark_url?: string;
}

/** A task: the `data` of a query, and the body of a callback. Timestamps are Unix milliseconds. */
export interface Task {
  task_id: string;
  task_status: TaskStatus;
  /** Why the task failed; empty otherwise. */
  task_status_msg: string;
  task_info: { external_task_id?: string };
  created_at: number;
  updated_at: number;
  final_unit_deduction?: string;
  watermark_info?: { enabled: boolean };
  task_result?: { images: TaskImage[] };
  /** Outpaint only: how far the work is, 0–100 (100 once succeeded). */
  task_progress?: number;
}

/** The envelope around every JSON answer. */
export interface Envelope<T> {
  code: number;
  message: string;
  request_id: string;
  data?: T;
}

export function isFinished(task: Pick<Task, 'task_status'>): boolean {
  return task.task_status === 'succeed' || task.task_status === 'failed';
}
