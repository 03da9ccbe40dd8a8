/**
 * How a callback reaches its receiver. The dispatcher takes any DeliverFn; the composition root passes
 * the SSRF-safe client's `post` (src/net/safe-http.ts), and createHttpDeliver is the plain default.
 */
import type { LookupFunction } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';

/**
 * POSTs `body` once and resolves with the answer's status, whatever it is. Never follows redirects.
 * Rejects on network errors and when no answer came within `timeoutMs`.
 */
export type DeliverFn = (
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: { timeoutMs: number },
) => Promise<{ status: number }>;

export interface HttpDeliverOptions {
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Name resolution for the connection, e.g. one that refuses private addresses (SSRF guard). */
  lookup?: LookupFunction;
  /** Judges the URL before anything is sent (e.g. IP literals, which skip `lookup`); throws to refuse. */
  guard?: (url: URL) => void | Promise<void>;
  /** Replaces the built-in connection pool (then `connectTimeoutMs` and `lookup` are not used). */
  dispatcher?: Dispatcher;
}

/** Only this much of a receiver's answer is read; the status is all that matters. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpDeliver extends DeliverFn {
  /** Closes the built-in connection pool. */
  close(): Promise<void>;
}

/** A DeliverFn on undici `request` (which follows no redirects unless told to). */
export function createHttpDeliver(options: HttpDeliverOptions = {}): HttpDeliver {
  const ownAgent = options.dispatcher
    ? null
    : new Agent({
        connect: { timeout: options.connectTimeoutMs ?? 5000, ...(options.lookup ? { lookup: options.lookup } : {}) },
        keepAliveTimeout: 10_000,
      });
  const dispatcher = options.dispatcher ?? ownAgent!;

  const deliver = async (
    url: string,
    headers: Record<string, string>,
    body: string,
    opts: { timeoutMs: number },
  ): Promise<{ status: number }> => {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new Error(`callback URL scheme ${target.protocol} is not http or https`);
    }
    await options.guard?.(target);
    const signal = AbortSignal.timeout(opts.timeoutMs);
    try {
      const answer = await request(target, {
        method: 'POST',
        headers,
        body,
        dispatcher,
        signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      // Drain (a little of) the answer so the connection can be reused; its content does not matter.
      await answer.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
      return { status: answer.statusCode };
    } catch (err) {
      if (signal.aborted) throw new Error(`no answer within ${opts.timeoutMs} ms`);
      throw err;
    }
  };
  return Object.assign(deliver, {
    async close() {
      await ownAgent?.close();
    },
  });
}
