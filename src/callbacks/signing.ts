/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver recomputes
 * base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) with the key decoded from the `whsec_` secret.
 */
import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The HMAC key inside a `whsec_<base64>` secret (the prefix is optional, as in the reference libraries). */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('webhook secret: expected "whsec_" and base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('webhook secret: empty key');
  return key;
}

/** `v1,<base64 signature>` for one message. */
export function webhookSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', webhookKey(secret)).update(`${id}.${timestampSeconds}.${body}`, 'utf8');
  return `v1,${mac.digest('base64')}`;
}

/** The three headers that sign `body` as message `id` sent at `timestampSeconds` (Unix seconds). */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): WebhookHeaders {
  if (!Number.isInteger(timestampSeconds)) throw new TypeError('webhook timestamp: whole Unix seconds expected');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': webhookSignature(secret, id, timestampSeconds, body),
  };
}
