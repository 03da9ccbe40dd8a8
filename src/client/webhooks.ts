/**
 * Checking a callback the Standard Webhooks way (https://www.standardwebhooks.com), as the server signs
 * it (src/callbacks/signing.ts): `webhook-signature` holds one or more `v1,<base64>` entries, each
 * base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{raw body}")), the key being the base64
 * after `whsec_` in the webhook secret. Web Crypto, so it runs in Node, browsers and edge runtimes.
 */
import { fromBase64, utf8 } from './encoding.js';
import type { Task } from './types.js';

const SECRET_PREFIX = 'whsec_';

/** Why a callback was refused; answer it with a 4xx. Not an OutpaintError: no server call failed. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Node's `req.headers`, a fetch `Headers`, or any record of header names (any case) to values. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, either way (default 300 s): a replay guard. */
  toleranceSeconds?: number;
  /** The clock (Unix ms), for tests. */
  now?: number;
}

/**
 * Verifies a callback and answers with its body, the task object. Pass the body exactly as received
 * (bytes or text, before any JSON parsing: re-serialised JSON does not match the signature). Throws
 * WebhookVerificationError for a missing header, a signature that does not match, or a timestamp outside
 * the tolerance.
 */
export async function verifyWebhook(
  headers: WebhookHeaders,
  rawBody: string | Uint8Array | ArrayBuffer,
  webhookSecret: string,
  options: VerifyOptions = {},
): Promise<Task> {
  const key = webhookKey(webhookSecret);
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');

  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp: not Unix seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const age = Math.floor((options.now ?? Date.now()) / 1000) - Number(timestamp);
  if (age > tolerance) throw new WebhookVerificationError(`webhook-timestamp: ${age} s old, more than the ${tolerance} s allowed`);
  if (age < -tolerance) throw new WebhookVerificationError(`webhook-timestamp: ${-age} s in the future, more than the ${tolerance} s allowed`);

  const body = typeof rawBody === 'string' ? utf8(rawBody) : new Uint8Array(rawBody);
  const signed = concat(utf8(`${id}.${timestamp}.`), body);
  const hmac = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = new Uint8Array(await crypto.subtle.sign('HMAC', hmac, signed));
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const [version, encoded] = entry.split(',', 2);
    const candidate = version === 'v1' && encoded ? fromBase64(encoded) : null;
    if (candidate && constantTimeEqual(candidate, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('webhook-signature: no signature matches');

  try {
    return JSON.parse(new TextDecoder().decode(body)) as Task;
  } catch {
    throw new WebhookVerificationError('body: signed, but not JSON');
  }
}

/** The HMAC key in a `whsec_<base64>` secret (the prefix may be left out). */
function webhookKey(secret: string): Uint8Array<ArrayBuffer> {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = fromBase64(encoded);
  if (!key || key.length === 0) throw new TypeError('webhookSecret: expected "whsec_" and base64, as the key was printed');
  return key;
}

function header(headers: WebhookHeaders, name: string): string {
  let value: string | string[] | null | undefined;
  if (typeof (headers as Headers).get === 'function') value = (headers as Headers).get(name);
  else {
    const record = headers as Record<string, string | string[] | undefined>;
    value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  }
  const text = Array.isArray(value) ? value.join(' ') : value;
  if (!text) throw new WebhookVerificationError(`${name}: header missing`);
  return text.trim();
}

/** Equal bytes, in a time that depends on the length only (the length of an HMAC is no secret). */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
