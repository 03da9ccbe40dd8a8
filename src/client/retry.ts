/**
 * When a failed call is tried again, and how long to wait first: exponential backoff with full jitter,
 * never sooner than the server's `retry-after`. Only what may succeed later is retried (1302, 5000–5999,
 * gateways' 502/503/504, no answer at all); a refusal of the request itself (1000–1304 but 1302) never is.
 */
import { NETWORK_ERROR, OutpaintError } from './errors.js';

export interface RetryOptions {
  /** Tries after the first (default 3; 0 turns retries off). */
  retries?: number;
  /** The first backoff's upper bound (default 500 ms); it doubles per try. */
  baseDelayMs?: number;
  /**
   * The longest wait before a try (default 60 s). A `retry-after` longer than this is not waited out:
   * the error is thrown at once, its `retryAfter` saying when to come back.
   */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export function retryPolicy(opts: RetryOptions = {}): RetryPolicy {
  return { retries: opts.retries ?? 3, baseDelayMs: opts.baseDelayMs ?? 500, maxDelayMs: opts.maxDelayMs ?? 60_000 };
}

/**
 * How a request may be repeated. `idempotent`: reads, and creates with an external_task_id. `once`: a
 * create without one, or a cancel: repeated only when the first attempt surely changed nothing (the
 * server refused it with 1302 or 5001, or the connection was never made).
 */
export type Repeatable = 'idempotent' | 'once';

/** The wait before try number `attempt` (1 for the first retry), or null when not to retry at all. */
export function retryDelay(err: unknown, attempt: number, repeatable: Repeatable, policy: RetryPolicy, random = Math.random): number | null {
  if (!(err instanceof OutpaintError) || !err.retryable || attempt > policy.retries) return null;
  if (repeatable === 'once' && !changedNothing(err)) return null;
  const backoff = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const floor = (err.retryAfter ?? 0) * 1000;
  if (floor > policy.maxDelayMs) return null;
  return Math.max(floor, backoff);
}

/** Refusals that leave nothing behind (the server's rule: a refused create stores nothing). */
function changedNothing(err: OutpaintError): boolean {
  if (err.code === 1302 || err.code === 5001) return true;
  return err.code === NETWORK_ERROR && neverConnected(err.cause);
}

/**
 * Node's fetch (undici) says why a connection failed in `cause.code`; browsers say nothing, so there a
 * network error is never known to be harmless.
 */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function neverConnected(cause: unknown): boolean {
  const inner = (cause as { cause?: unknown } | undefined)?.cause;
  const codes = [inner, ...((inner as { errors?: unknown[] } | undefined)?.errors ?? [])].map((e) => (e as { code?: unknown } | undefined)?.code);
  return codes.some((code) => typeof code === 'string' && CONNECT_FAILURES.has(code));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
