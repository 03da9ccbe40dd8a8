export type { DeliverFn } from './deliver.js';
export {
  CallbackDispatcher,
  retryDelayMs,
  type CallbackDispatcherOptions,
  type DispatcherLogger,
} from './dispatcher.js';
export { signWebhook, webhookKey, webhookSignature, type WebhookHeaders } from './signing.js';
