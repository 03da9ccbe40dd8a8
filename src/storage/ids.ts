import { randomUUID } from 'node:crypto';

/** Callback (webhook) ids in the Standard Webhooks style; one per status change, kept across retries. */
export function newCallbackId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}
