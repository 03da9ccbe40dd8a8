import { randomBytes } from 'node:crypto';
import type { ApiKeyRecord } from './model.js';

// Kling's access keys are 32 alphanumerics; ours are too, so clients that check the shape accept them.
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlphanumeric(length: number): string {
  // 62 does not divide 256: draw bytes and drop the few that would bias the result.
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHANUMERIC[b % 62];
    }
  }
  return out;
}

/** A new key; with no accountId it opens a new account (accounts never see each other's tasks). */
export function newApiKey(name: string, accountId?: string, now = Date.now()): ApiKeyRecord {
  return {
    accessKey: randomAlphanumeric(32),
    secretKey: randomAlphanumeric(32),
    // The Standard Webhooks secret format: "whsec_" and base64 of at least 24 random bytes.
    webhookSecret: `whsec_${randomBytes(32).toString('base64')}`,
    accountId: accountId ?? `acct_${randomAlphanumeric(20)}`,
    name,
    createdAt: now,
    revokedAt: null,
  };
}
