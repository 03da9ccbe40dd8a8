/**
 * The one way Outpaint reaches other machines (image URLs, callbacks), guarded against SSRF:
 * - only http and https;
 * - IP literals are judged before connecting, every DNS answer inside the connection's `lookup`, and
 *   the socket's actual peer address once connected (so no resolver trick gets past);
 * - redirects are followed by hand (images only, at most 5), each hop judged again;
 * - downloads are capped in time and size, aborting as soon as the cap is passed.
 * Allowed are public unicast addresses and whatever config.allowPrivateHosts names.
 */
import { promises as dns } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { megabytes } from '../util/format.js';
import { createAddressPolicy, normaliseHost, type AddressPolicy } from './address-policy.js';

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface SafeHttpOptions {
  /** Hosts, IPs or CIDRs that may be reached although not public (config.allowPrivateHosts). */
  allow: readonly string[];
  connectTimeoutMs: number;
  /** Name resolution; tests inject one. Default: the system resolver (getaddrinfo). */
  resolver?: Resolver;
  /** Sent with every request. */
  userAgent?: string;
}

export type OutboundFailure =
  | 'bad_url'
  | 'blocked'
  | 'too_large'
  | 'timeout'
  | 'http_status'
  | 'too_many_redirects'
  | 'network';

/** Why an outbound request failed; `message` is fit for a client (no internals). */
export class OutboundRequestError extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OutboundRequestError';
  }
}

export interface FetchImageOptions {
  /** For the whole download, redirects included. */
  timeoutMs: number;
  maxBytes: number;
}

export interface SafeHttp {
  /** Throws an OutboundRequestError for a URL refused without a DNS look-up (scheme, IP literal). */
  checkUrl(url: string): void;
  /** GETs `url` following at most 5 redirects; resolves with the body of a 2xx answer. */
  fetchImage(url: string, opts: FetchImageOptions): Promise<Buffer>;
  /** POSTs once, following no redirect; resolves with the status whatever it is. */
  post(url: string, headers: Record<string, string>, body: string, opts: { timeoutMs: number }): Promise<{ status: number }>;
  close(): Promise<void>;
}

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export function createSafeHttp(options: SafeHttpOptions): SafeHttp {
  const policy = createAddressPolicy(options.allow);
  const resolver: Resolver =
    options.resolver ?? ((host) => dns.lookup(host, { all: true, verbatim: true }) as Promise<LookupAddress[]>);
  const userAgent = options.userAgent ?? 'Outpaint';

  const lookup = (
    hostname: string,
    opts: { all?: boolean; family?: number | string },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const answer = async (): Promise<{ address: string; family: number }[]> => {
      const answers = await resolver(hostname);
      if (answers.length === 0) throw new OutboundRequestError('network', `${hostname} does not resolve`);
      if (!policy.hostAllowed(hostname)) {
        // Every answer, not just the first: the socket may try them all (happy eyeballs).
        for (const a of answers) {
          const why = policy.refusal(a.address);
          if (why) throw new OutboundRequestError('blocked', `${hostname} resolves to ${why}`);
        }
      }
      const wanted = opts.family === 6 || opts.family === 'IPv6' ? 6 : opts.family === 4 || opts.family === 'IPv4' ? 4 : 0;
      const usable = wanted ? answers.filter((a) => a.family === wanted) : answers;
      if (usable.length === 0) throw new OutboundRequestError('network', `${hostname} has no IPv${wanted} address`);
      return usable;
    };
    answer().then(
      (usable) => {
        if (opts.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, usable[0].address, usable[0].family);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), ''),
    );
  };

  const connect = buildConnector({ timeout: options.connectTimeoutMs, lookup } as buildConnector.BuildOptions);
  const agent = new Agent({
    connect: (connectOpts, callback) => {
      connect(connectOpts, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('connect failed'), null);
        // The last word: the peer we are actually connected to.
        const peer = (socket as Socket).remoteAddress ?? '';
        const why = policy.hostAllowed(connectOpts.hostname) ? null : policy.refusal(peer);
        if (why) {
          socket.destroy();
          return callback(new OutboundRequestError('blocked', `${connectOpts.hostname} is ${why}`), null);
        }
        callback(null, socket);
      });
    },
    connections: 64,
  });

  /** Refuses bad schemes and IP literals that may not be reached, before any socket is opened. */
  const checkUrl = (raw: string): URL => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundRequestError('bad_url', 'is not valid');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new OutboundRequestError('bad_url', `scheme ${url.protocol.replace(/:$/, '')} is not supported; use http or https`);
    }
    if (url.username || url.password) throw new OutboundRequestError('bad_url', 'must not contain credentials (user:password@)');
    const host = normaliseHost(url.hostname);
    if (!policy.hostAllowed(host)) {
      const why = policy.refusal(host);
      if (why && why !== 'not an IP address') throw new OutboundRequestError('blocked', `${host} is ${why}`);
    }
    return url;
  };

  const send = async (
    url: URL,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
    timeoutMs: number,
  ) => {
    try {
      return await request(url, {
        dispatcher: agent,
        method,
        headers: { 'user-agent': userAgent, ...headers },
        body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      throw translate(err, signal, timeoutMs);
    }
  };

  return {
    async fetchImage(raw, opts) {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      let url = checkUrl(raw);
      for (let hop = 0; ; hop++) {
        const res = await send(url, 'GET', { accept: 'image/png, image/jpeg;q=0.9, */*;q=0.1' }, undefined, signal, opts.timeoutMs);
        if (REDIRECT_STATUSES.has(res.statusCode)) {
          discard(res.body);
          const location = res.headers.location;
          if (typeof location !== 'string' || !location) {
            throw new OutboundRequestError('http_status', `answered HTTP ${res.statusCode} without a Location`, res.statusCode);
          }
          if (hop >= MAX_REDIRECTS) {
            throw new OutboundRequestError('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`);
          }
          let next: string;
          try {
            next = new URL(location, url).href;
          } catch {
            throw new OutboundRequestError('bad_url', 'redirects to an invalid URL');
          }
          url = checkUrl(next);
          continue;
        }
        if (res.statusCode < 200 || res.statusCode > 299) {
          discard(res.body);
          throw new OutboundRequestError('http_status', `answered HTTP ${res.statusCode}`, res.statusCode);
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          discard(res.body);
          throw tooLarge(opts.maxBytes);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of res.body) {
            size += (chunk as Buffer).length;
            if (size > opts.maxBytes) {
              discard(res.body);
              throw tooLarge(opts.maxBytes);
            }
            chunks.push(chunk as Buffer);
          }
        } catch (err) {
          throw translate(err, signal, opts.timeoutMs);
        }
        return Buffer.concat(chunks, size);
      }
    },

    async post(raw, headers, body, opts) {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      const url = checkUrl(raw);
      const res = await send(url, 'POST', headers, body, signal, opts.timeoutMs);
      // The answer's body is of no interest; discard it so the connection can be reused.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      return { status: res.statusCode };
    },

    checkUrl: (raw) => void checkUrl(raw),
    close: () => agent.close(),
  };
}

/** Drops a response body we will not read; destroying it otherwise surfaces as an uncaught AbortError. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => undefined);
  body.destroy();
}

function tooLarge(maxBytes: number): OutboundRequestError {
  return new OutboundRequestError('too_large', `exceeds the maximum of ${megabytes(maxBytes)}`);
}

/** Maps whatever undici or the guard threw to an OutboundRequestError with a client-safe message. */
function translate(err: unknown, signal: AbortSignal, timeoutMs: number): OutboundRequestError {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundRequestError) return e;
  }
  const code = (err as { code?: string })?.code;
  if (signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new OutboundRequestError('timeout', `timed out after ${timeoutMs} ms`);
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new OutboundRequestError('timeout', 'connect timed out');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new OutboundRequestError('network', 'host does not resolve');
  if (code === 'ECONNREFUSED') return new OutboundRequestError('network', 'connection refused');
  return new OutboundRequestError('network', 'could not be reached');
}
