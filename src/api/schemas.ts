/**
 * Every request and response shape of the HTTP API, as TypeBox schemas: the same objects validate
 * requests (see `compileValidator`), serialise responses and make the OpenAPI document. The contract's
 * rules that JSON Schema cannot say (the area rule, "at least one ratio", the image string) are applied by
 * `toExpandRequest` with the shared rules of src/input/rules.ts, so this file and that one are the only
 * places a request is judged.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ApiError, ERRORS, invalidParameter } from '../errors.js';
import { checkN, checkPrompt, checkRatios, LIMITS } from '../input/rules.js';
import type { ExpandRequest, ImageSource } from '../tasks/service.js';

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

const TaskStatus = Type.Union([
  Type.Literal('submitted'),
  Type.Literal('processing'),
  Type.Literal('succeed'),
  Type.Literal('failed'),
]);
const TaskInfo = Type.Object({ external_task_id: Type.String() });

export const CreatedTask = Type.Object({
  task_id: Type.String(),
  task_status: TaskStatus,
  task_info: TaskInfo,
  created_at: Type.Integer({ description: 'Unix ms.' }),
  updated_at: Type.Integer({ description: 'Unix ms.' }),
});

export const Task = Type.Object(
  {
    task_id: Type.String(),
    task_status: TaskStatus,
    task_status_msg: Type.String({ description: 'Why the task failed; empty otherwise.' }),
    task_info: TaskInfo,
    created_at: Type.Integer({ description: 'Unix ms.' }),
    updated_at: Type.Integer({ description: 'Unix ms.' }),
    final_unit_deduction: Type.String({ description: 'Images charged; "0" until the task succeeds.' }),
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

/** The success envelope around `data`. */
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

/** Response schemas for the error statuses a route can answer with, each described by its codes. */
export function errorResponses(...kinds: (keyof typeof ERRORS)[]): Record<number, TSchema> {
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

// ------------------------------------------------------------------------------------------- validation

/**
 * A Fastify validator compiler built on TypeBox: no type coercion in bodies (`"n": "3"` is refused, as a
 * typed client would never send it), query strings converted from text first. Fields sent as null count
 * as absent. Failures are 1201s whose message is `field: rule`, the same wording as src/input/rules.ts.
 */
export function compileValidator({ schema, httpPart }: { schema: TSchema; httpPart?: string }) {
  const checker = TypeCompiler.Compile(schema);
  return (input: unknown): { value: unknown } | { error: Error } => {
    let value = input;
    if (httpPart === 'body') {
      if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
        return { error: new ApiError('INVALID_REQUEST', 'request body must be a JSON object') };
      }
      value = withoutNulls(value as Record<string, unknown>);
    } else if (httpPart === 'querystring') {
      value = numbersFromText(schema, value as Record<string, unknown>);
    }
    if (checker.Check(value)) return { value };
    for (const error of checker.Errors(value)) {
      // TypeBox counts string length in UTF-16 units, JSON Schema (and we) in characters.
      if (error.type === ValueErrorType.StringMaxLength && [...(error.value as string)].length <= (error.schema.maxLength as number)) {
        continue;
      }
      return { error: describe(error) };
    }
    return { value };
  };
}

/**
 * Query strings are text: turns the numeric ones into numbers where the text is a JSON number, and leaves
 * everything else to fail the type check (TypeBox's own conversion would quietly truncate "1.5" to 1).
 */
function numbersFromText(schema: TSchema, query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...query };
  const properties = (schema.properties ?? {}) as Record<string, { type?: string }>;
  for (const [name, prop] of Object.entries(properties)) {
    const v = out[name];
    if ((prop.type === 'integer' || prop.type === 'number') && typeof v === 'string' && JSON_NUMBER.test(v)) {
      out[name] = Number(v);
    }
  }
  return out;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function withoutNulls(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (v !== null) out[k] = v;
  return out;
}

/** One TypeBox error as a 1201 `field: rule`. */
function describe(error: ValueError): ApiError {
  const field = error.path.replace(/^\//, '').replaceAll('/', '.') || 'body';
  const s = error.schema as Record<string, unknown>;
  const range = () => `${String(error.value)} is outside [${s.minimum as number}, ${s.maximum as number}]`;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return invalidParameter(field, 'is required');
    case ValueErrorType.Integer:
      return invalidParameter(field, 'must be an integer');
    case ValueErrorType.Number:
      return invalidParameter(field, 'must be a number');
    case ValueErrorType.String:
      return invalidParameter(field, 'must be a string');
    case ValueErrorType.Boolean:
      return invalidParameter(field, 'must be a boolean');
    case ValueErrorType.Object:
      return invalidParameter(field, 'must be an object');
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.NumberMinimum:
      return invalidParameter(field, range());
    case ValueErrorType.StringMinLength:
      return invalidParameter(field, 'must not be empty');
    case ValueErrorType.StringMaxLength: {
      const chars = [...(error.value as string)].length;
      return invalidParameter(field, `${chars} characters exceed the maximum of ${s.maxLength as number}`);
    }
    default:
      return invalidParameter(field, error.message.toLowerCase());
  }
}

// ------------------------------------------------------------------------------ the create request, judged

/** Applies the contract's rules beyond the schema; throws 1201 `field: rule`. */
export function toExpandRequest(body: ExpandBody): ExpandRequest {
  const ratios = checkRatios({
    up: body.up_expansion_ratio,
    down: body.down_expansion_ratio,
    left: body.left_expansion_ratio,
    right: body.right_expansion_ratio,
  });
  return {
    image: parseImageField(body.image),
    ratios,
    n: checkN(body.n),
    prompt: checkPrompt(body.prompt),
    watermark: body.watermark_info?.enabled === true,
    // Kling's SDKs send "" for "none"; so it means none here too.
    callbackUrl: body.callback_url ? parseCallbackUrl(body.callback_url) : null,
    externalTaskId: body.external_task_id ? body.external_task_id : null,
  };
}

export function parseImageField(raw: string): ImageSource {
  const value = raw.trim();
  if (/^data:/i.test(value)) {
    throw invalidParameter('image', 'send raw base64 without a "data:" prefix (drop everything up to and including the comma)');
  }
  if (/^https?:\/\//i.test(value)) {
    try {
      return { kind: 'url', url: new URL(value).href };
    } catch {
      throw invalidParameter('image', 'is not a valid URL');
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw invalidParameter('image', 'only http and https URLs are supported');
  }
  // Base64 may be wrapped across lines (MIME style); the alphabet may be standard or URL-safe.
  const bytes = decodeBase64(value) ?? decodeBase64(value.replace(/\s+/g, ''));
  if (!bytes) throw invalidParameter('image', 'is neither an http(s) URL nor valid base64');
  return { kind: 'base64', bytes };
}

/**
 * Strict base64 (standard or URL-safe alphabet, padding optional but right); null when invalid.
 * Node's decoder skips characters outside the alphabet, so the input is valid exactly when encoding the
 * bytes again gives it back: two passes in native code instead of a regex over megabytes.
 */
function decodeBase64(s: string): Buffer | null {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  const padding = s.length - end;
  if (end === 0 || padding > 2 || (padding > 0 && s.length % 4 !== 0)) return null;
  const urlSafe = s.includes('-') || s.includes('_');
  const bytes = Buffer.from(s, urlSafe ? 'base64url' : 'base64');
  const again = bytes.toString('base64url');
  // base64url output is unpadded; compare it with the unpadded input in the input's alphabet.
  if (again.length !== end) return null;
  const unpadded = padding > 0 ? s.slice(0, end) : s;
  return (urlSafe ? again : bytes.toString('base64').slice(0, end)) === unpadded ? bytes : null;
}

function parseCallbackUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidParameter('callback_url', 'is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidParameter('callback_url', 'must be an http or https URL');
  }
  return url.href;
}
