/**
 * `outpaint/client`: the SDK for Outpaint and Kling's Image Expansion API. Runs in Node 20+ and
 * browsers: fetch, Web Crypto and TextEncoder only (test/architecture.test.ts keeps Node out of it).
 */
export {
  OutpaintClient,
  type ApiKeyCredentials,
  type CallOptions,
  type DownloadOptions,
  type EventsOptions,
  type KeyCredentials,
  type OutpaintClientOptions,
  type PageOptions,
  type TaskRef,
  type WaitOptions,
} from './client.js';
export { signJwt, type JwtOptions } from './auth.js';
export { NETWORK_ERROR, OutpaintError, UNEXPECTED_RESPONSE, type OutpaintErrorInit } from './errors.js';
export type { RetryOptions } from './retry.js';
export { isFinished, type CreatedTask, type Envelope, type ExpandRequest, type Task, type TaskImage, type TaskStatus } from './types.js';
export { verifyWebhook, WebhookVerificationError, type VerifyOptions, type WebhookHeaders } from './webhooks.js';
