/**
 * Validation at the edge, in one place: the contract's schemas (src/contract/schemas.ts) checked by a
 * TypeBox validator compiler, then the rules JSON Schema cannot say (the area rule, "at least one ratio",
 * the image string) applied by `toExpandRequest` with the shared rules of src/contract/rules.ts. Every
 * failure is a 1201 (or 1200) whose message names the field and the rule.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ApiError, invalidParameter } from '../contract/errors.js';
import { checkN, checkPrompt, checkRatios, checkSeed } from '../contract/rules.js';
import type { ExpandBody } from '../contract/schemas.js';
import type { ExpandRequest, ImageSource } from '../tasks/service.js';

/**
 * A Fastify validator compiler built on TypeBox: no type coercion in bodies (`"n": "3"` is refused, as a
 * typed client would never send it), query strings converted from text first. Fields sent as null count
 * as absent. Failures are 1201s whose message is `field: rule`, the same wording as src/contract/rules.ts.
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
    seed: checkSeed(body.seed),
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
