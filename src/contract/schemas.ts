/**
 * The wire contract: every request and response shape of the HTTP API as TypeBox schemas, with their
 * TypeScript types (`Static`). The same objects validate requests (src/api/validation.ts), serialise
 * responses, make the OpenAPI document and type the SDK and the page, so the task object is written once.
 * No Node-only imports: this module also runs in browsers.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ERRORS, type ErrorKind } from './errors.js';
import { ACCESS_TOKEN_PARAM } from './paths.js';
import { LIMITS } from './rules.js';

// ---------------------------------------------------------------------------------------------- requests

const ratio = (side: string, of: 'height' | 'width') =>
  Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: LIMITS.maxRatio,
      description: `How far to grow the ${side} side, as a multiple of the original ${of}. Missing counts as 0.`,
    }),
  );

export const MAX_EXTERNAL_TASK_ID_CHARS = 256;
export const MAX_CALLBACK_URL_CHARS = 2048;

export const ExpandBody = Type.Object(
  {
    image: Type.String({
      minLength: 1,
      description:
        'An http(s) URL, or the image as raw base64 with no `data:` prefix. JPEG or PNG, at most 10 MB, ' +
        'each side at least 300 px, aspect ratio between 1:2.5 and 2.5:1.',
    }),
    up_expansion_ratio: ratio('top', 'height'),
    down_expansion_ratio: ratio('bottom', 'height'),
    left_expansion_ratio: ratio('left', 'width'),
    right_expansion_ratio: ratio('right', 'width'),
    prompt: Type.Optional(Type.String({ maxLength: LIMITS.maxPromptChars, description: 'What to paint in the new area.' })),
    n: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxN, default: 1, description: 'How many images to make.' })),
    watermark_info: Type.Optional(
      Type.Object({ enabled: Type.Boolean() }, { description: 'Also produce a watermarked copy of each image.' }),
    ),
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: LIMITS.maxSeed,
        description:
          "Outpaint's own field (Kling has none): the same image, ratios and seed give the same pictures; result i " +
          'uses seed + i, as `outpaint expand --seed` does. Missing: a seed derived from the task id.',
      }),
    ),
    callback_url: Type.Optional(
      Type.String({ maxLength: MAX_CALLBACK_URL_CHARS, description: 'Notified (POST) on every status change.' }),
    ),
    external_task_id: Type.Optional(
      Type.String({ maxLength: MAX_EXTERNAL_TASK_ID_CHARS, description: "The caller's own id, unique within the account." }),
    ),
  },
  {
    // Kling ignores fields it does not know; so do we (they are not stored).
    additionalProperties: true,
    description: '(1 + left + right) × (1 + up + down) ≤ 3, and at least one ratio above 0.',
  },
);
export type ExpandBody = Static<typeof ExpandBody>;

export const TaskIdParams = Type.Object({
  id: Type.String({ minLength: 1, description: 'The task_id, else the account’s external_task_id.' }),
});
export type TaskIdParams = Static<typeof TaskIdParams>;

export const ListQuery = Type.Object(
  {
    external_task_id: Type.Optional(
      Type.String({ minLength: 1, description: 'Answer with this one task (single-task shape) instead of a list.' }),
    ),
    pageNum: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 30 })),
  },
  { additionalProperties: true },
);
export type ListQuery = Static<typeof ListQuery>;

export const EventsQuery = Type.Object(
  {
    [ACCESS_TOKEN_PARAM]: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The bearer token (a JWT, or the secret key) for clients that cannot send headers, such as a ' +
          "browser's EventSource. The Authorization header wins when both are sent.",
      }),
    ),
  },
  { additionalProperties: true },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventsHeaders = Type.Object(
  {
    'last-event-id': Type.Optional(
      Type.String({ description: 'The `id` of the last event received: the stream resumes after it (EventSource sends it when it reconnects).' }),
    ),
  },
  { additionalProperties: true },
);
export type EventsHeaders = Static<typeof EventsHeaders>;

export const FileParams = Type.Object({ '*': Type.String({ description: 'The blob key.' }) });
/** FileParams as the OpenAPI document shows them: Fastify's wildcard `*` named `key`. */
export const FileKeyParams = Type.Object({
  key: Type.String({ description: 'The result file\'s key, e.g. results/<task_id>/0.png (it contains "/"); copy links whole from a task.' }),
});
export const FileQuery = Type.Object(
  {
    expires: Type.Optional(Type.String({ description: 'Unix seconds after which the link is dead.' })),
    signature: Type.Optional(Type.String({ description: 'HMAC-SHA256 of key and expiry, base64url.' })),
  },
  { additionalProperties: true },
);
export type FileQuery = Static<typeof FileQuery>;

// --------------------------------------------------------------------------------------------- responses

export const TaskStatus = Type.Union([
  Type.Literal('submitted'),
  Type.Literal('processing'),
  Type.Literal('succeed'),
  Type.Literal('failed'),
]);
export type TaskStatus = Static<typeof TaskStatus>;
const TaskInfo = Type.Object({ external_task_id: Type.String() });

/** What POST /v1/images/editing/expand answers with. */
export const CreatedTask = Type.Object({
  task_id: Type.String(),
  task_status: TaskStatus,
  task_info: TaskInfo,
  created_at: Type.Integer({ description: 'Unix ms.' }),
  updated_at: Type.Integer({ description: 'Unix ms.' }),
});
export type CreatedTask = Static<typeof CreatedTask>;

export const Task = Type.Object(
  {
    task_id: Type.String(),
    task_status: TaskStatus,
    task_status_msg: Type.String({ description: 'Why the task failed; empty otherwise.' }),
    task_info: TaskInfo,
    created_at: Type.Integer({ description: 'Unix ms.' }),
    updated_at: Type.Integer({ description: 'Unix ms.' }),
    final_unit_deduction: Type.String({ description: 'Images charged; "0" until the task succeeds.' }),
    task_progress: Type.Integer({
      minimum: 0,
      maximum: 100,
      description: "Outpaint's own field (Kling clients ignore it): how far the work is, 0–100; 100 once succeeded.",
    }),
    watermark_info: Type.Object({ enabled: Type.Boolean() }),
    task_result: Type.Object({
      images: Type.Array(
        Type.Object({
          index: Type.Integer({ minimum: 0 }),
          url: Type.String({ description: 'Signed link, valid while the result is kept.' }),
          watermark_url: Type.Optional(Type.String({ description: 'Only when watermarking was asked for.' })),
        }),
      ),
    }),
  },
  { title: 'Task', description: 'A task; also the body of callbacks (without the envelope).' },
);
/** The contract's task object: the `data` of query responses and the body of callbacks. */
export type Task = Static<typeof Task>;
export type TaskImage = Task['task_result']['images'][number];

/** The success envelope around `data`. */
export interface Envelope<T> {
  code: 0;
  message: string;
  request_id: string;
  data: T;
}
export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({
    code: Type.Literal(0),
    message: Type.String({ examples: ['SUCCEED'] }),
    request_id: Type.String(),
    data,
  });
}

const ALL_ERROR_CODES = Object.values(ERRORS).map((e) => e.code);

export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer({ enum: ALL_ERROR_CODES, description: 'A Kling error code; see the table in the API description.' }),
    message: Type.String({ description: 'What went wrong; for 1201 it names the field and the rule.' }),
    request_id: Type.String(),
  },
  { title: 'Error' },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

/** Response schemas for the error statuses a route can answer with, each described by its codes. */
export function errorResponses(...kinds: ErrorKind[]): Record<number, TSchema> {
  const byStatus = new Map<number, string[]>();
  for (const kind of kinds) {
    const e = ERRORS[kind];
    byStatus.set(e.status, [...(byStatus.get(e.status) ?? []), `${e.code} ${e.message}`]);
  }
  const out: Record<number, TSchema> = {};
  for (const [status, lines] of byStatus) {
    out[status] = { ...ErrorEnvelope, description: lines.join('; ') };
  }
  return out;
}

