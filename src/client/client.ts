/**
 * OutpaintClient: Kling's Image Expansion API (and Outpaint's cancel and events) over fetch, for Node
 * 20+ and browsers. Every failure is an OutpaintError; what may succeed later is retried with backoff
 * (retry.ts says what, and why a create is never repeated blindly).
 */
import { cancelPath, EXPAND_PATH, eventsPath, TASK_EVENT, taskPath } from '../contract/paths.js';
import { apiKeySource, jwtSource, type JwtOptions, type TokenSource } from './auth.js';
import { base64 } from './encoding.js';
import { NETWORK_ERROR, OutpaintError, UNEXPECTED_RESPONSE } from './errors.js';
import { retryDelay, retryPolicy, sleep, type Repeatable, type RetryOptions, type RetryPolicy } from './retry.js';
import { parseEventStream } from './sse.js';
import { isFinished, type CreatedTask, type Envelope, type ExpandRequest, type Task } from './types.js';

interface CommonOptions {
  /** The server, e.g. "https://outpaint.example.com" or Kling's "https://api-singapore.klingai.com"; a path prefix is kept. */
  baseUrl: string | URL;
  /** Time for each attempt to be answered (default 60 s); for an event stream, until it starts. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Another fetch (a proxy agent, instrumentation); default globalThis.fetch. */
  fetch?: typeof fetch;
}

/** Kling's keys: each request carries an HS256 JWT made from them (cached, renewed before it expires). */
export interface KeyCredentials extends CommonOptions {
  accessKey: string;
  secretKey: string;
  token?: JwtOptions;
}

/** A plain API key, sent as the bearer token itself. */
export interface ApiKeyCredentials extends CommonOptions {
  apiKey: string;
}

export type OutpaintClientOptions = KeyCredentials | ApiKeyCredentials;

export interface CallOptions {
  signal?: AbortSignal;
}

/** A task by its task_id, or by the external_task_id you gave it. */
export type TaskRef = string | { task_id: string } | { external_task_id: string };

export interface PageOptions extends CallOptions {
  /** Tasks per page, 1–500 (default 30). */
  pageSize?: number;
  /** The first page to read, from 1 (default 1). */
  pageNum?: number;
}

export interface WaitOptions extends CallOptions {
  /** Called with the task each time it is seen changed (status, progress, updated_at), the last time included. */
  onProgress?: (task: Task) => void;
  /** The first wait between polls (default 1 s); it grows ×1.5 while nothing changes, back to this when something does. */
  pollIntervalMs?: number;
  /** The longest wait between polls (default 10 s). */
  maxPollIntervalMs?: number;
}

export interface EventsOptions extends CallOptions {
  /** Resume after this event id (from an earlier stream). */
  lastEventId?: string;
}

const ACCEPT: Record<Request['expect'], string> = { json: 'application/json', bytes: '*/*', stream: 'text/event-stream' };

export interface DownloadOptions extends CallOptions {
  /** The watermarked copies instead (tasks created with watermark_info.enabled). */
  watermarked?: boolean;
}

const MAX_PAGE_NUM = 1000;

interface Request {
  method: 'GET' | 'POST';
  url: string;
  /** What a success is: the envelope's data, a file's bytes (no token sent), or an open event stream. */
  expect: 'json' | 'bytes' | 'stream';
  body?: unknown;
  repeatable: Repeatable;
  signal?: AbortSignal;
  lastEventId?: string;
}

export class OutpaintClient {
  private readonly base: string;
  private readonly tokens: TokenSource;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly fetchImpl: typeof fetch;

  constructor(options: OutpaintClientOptions) {
    const base = new URL(String(options.baseUrl));
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`baseUrl: expected http(s), got ${base.protocol}`);
    this.base = base.href.replace(/\/+$/, '');
    if ('apiKey' in options) {
      if (!options.apiKey) throw new TypeError('apiKey: empty');
      this.tokens = apiKeySource(options.apiKey);
    } else {
      if (!options.accessKey || !options.secretKey) throw new TypeError('accessKey and secretKey: both are needed (or apiKey)');
      this.tokens = jwtSource(options.accessKey, options.secretKey, options.token);
    }
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.policy = retryPolicy(options.retry);
    // Called through globalThis: browsers refuse a fetch called on another object ("Illegal invocation").
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Creates a task. A Uint8Array image is sent as base64. Retried only when safe: with an
   * external_task_id every retryable failure is retried, and a retry that finds the id taken (an earlier
   * attempt created the task, its answer was lost) answers with that task; without one, only refusals
   * that stored nothing (1302, 5001) and connections never made are retried.
   */
  async create(request: ExpandRequest, options: CallOptions = {}): Promise<CreatedTask> {
    const body = { ...request, image: typeof request.image === 'string' ? request.image : base64(request.image) };
    const externalId = request.external_task_id || undefined;
    let attempts = 0;
    try {
      return await this.call<CreatedTask>(
        { ...this.request('POST', EXPAND_PATH, 'json', options), body, repeatable: externalId ? 'idempotent' : 'once' },
        () => attempts++,
      );
    } catch (err) {
      if (externalId && attempts > 1 && err instanceof OutpaintError && err.code === 1201 && err.message.startsWith('external_task_id')) {
        const task = await this.get({ external_task_id: externalId }, options);
        return { task_id: task.task_id, task_status: task.task_status, task_info: task.task_info, created_at: task.created_at, updated_at: task.updated_at };
      }
      throw err;
    }
  }

  /** One task, by task_id or external_task_id (a string containing "/" can only be an external id). */
  get(ref: TaskRef, options: CallOptions = {}): Promise<Task> {
    return this.call<Task>(this.request('GET', this.taskPathOf(ref), 'json', options));
  }

  /** One page of the account's tasks, newest first. */
  listPage(options: PageOptions = {}): Promise<Task[]> {
    const path = `${EXPAND_PATH}?pageNum=${options.pageNum ?? 1}&pageSize=${options.pageSize ?? 30}`;
    return this.call<Task[]>(this.request('GET', path, 'json', options));
  }

  /** The pages of the account's tasks, newest first, until a short page (the last, as the API has no totals). */
  async *pages(options: PageOptions = {}): AsyncGenerator<Task[], void, undefined> {
    const pageSize = options.pageSize ?? 30;
    for (let pageNum = options.pageNum ?? 1; pageNum <= MAX_PAGE_NUM; pageNum++) {
      const page = await this.listPage({ ...options, pageNum, pageSize });
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
    }
  }

  /**
   * Every task of the account, newest first, read a page at a time. Tasks created meanwhile push older
   * ones to later pages, so one may be seen twice; use task_id to tell.
   */
  async *list(options: PageOptions = {}): AsyncGenerator<Task, void, undefined> {
    for await (const page of this.pages(options)) yield* page;
  }

  /** Cancels a submitted or processing task (Outpaint only); it ends failed, "canceled". */
  cancel(ref: TaskRef, options: CallOptions = {}): Promise<Task> {
    const id = typeof ref === 'string' ? ref : 'task_id' in ref ? ref.task_id : ref.external_task_id;
    return this.call<Task>({ ...this.request('POST', cancelPath(id), 'json', options), repeatable: 'once' });
  }

  /**
   * The task's states as the server streams them (Outpaint only: Server-Sent Events): the current one,
   * then every status change and progress step, ending after the finished one. A dropped stream is
   * reopened where it left off (Last-Event-ID), with the same backoff as a failed call.
   */
  async *events(taskId: string, options: EventsOptions = {}): AsyncGenerator<Task, void, undefined> {
    let lastEventId = options.lastEventId;
    let failures = 0;
    for (;;) {
      // Opening is a call like any other, with its own retries; a refusal (1203, 1004…) ends here.
      const res = await this.call<Response>({ ...this.request('GET', eventsPath(taskId), 'stream', options), lastEventId });
      let failure: OutpaintError;
      try {
        for await (const event of parseEventStream(res.body!, options.signal)) {
          if (event.event !== TASK_EVENT) continue;
          lastEventId = event.id;
          failures = 0;
          const task = parseTask(event.data, res);
          yield task;
          if (isFinished(task)) return;
        }
        failure = new OutpaintError({ code: NETWORK_ERROR, status: 0, message: 'the event stream ended before the task finished' });
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (err instanceof OutpaintError) throw err;
        failure = networkError(err, 'the event stream broke');
      }
      const delay = retryDelay(failure, ++failures, 'idempotent', this.policy);
      if (delay === null) throw failure;
      await sleep(delay, options.signal);
    }
  }

  /**
   * Polls until the task finishes (succeed or failed) and answers with it; a failed task is an answer,
   * not an error. Stop early with `signal` (e.g. AbortSignal.timeout(ms)).
   */
  async waitFor(ref: TaskRef, options: WaitOptions = {}): Promise<Task> {
    const first = options.pollIntervalMs ?? 1000;
    const max = Math.max(first, options.maxPollIntervalMs ?? 10_000);
    let interval = first;
    let seen = '';
    for (;;) {
      const task = await this.get(ref, options);
      const state = `${task.task_status}|${task.task_progress}|${task.updated_at}`;
      if (state !== seen) {
        seen = state;
        interval = first;
        options.onProgress?.(task);
      } else {
        interval = Math.min(max, interval * 1.5);
      }
      if (isFinished(task)) return task;
      await sleep(interval, options.signal);
    }
  }

  /** A result file (a signed link: sent without the token, which must not leak to another host). */
  download(url: string, options: CallOptions = {}): Promise<Uint8Array> {
    return this.call<Uint8Array>({ method: 'GET', url: new URL(url, this.base + '/').href, expect: 'bytes', repeatable: 'idempotent', signal: options.signal });
  }

  /** Every result image of a task, in index order (empty unless it succeeded). */
  async downloadResults(task: Pick<Task, 'task_result'>, options: DownloadOptions = {}): Promise<Uint8Array[]> {
    const images = [...(task.task_result?.images ?? [])].sort((a, b) => a.index - b.index);
    return Promise.all(
      images.map((image) => {
        const url = options.watermarked ? image.watermark_url : image.url;
        if (!url) throw new TypeError(`image ${image.index} has no ${options.watermarked ? 'watermark_url' : 'url'}`);
        return this.download(url, options);
      }),
    );
  }

  // ----------------------------------------------------------------------------------------------------

  /** A request of the API itself (with the token), retried as a read unless the caller says otherwise. */
  private request(method: Request['method'], path: string, expect: Request['expect'], options: CallOptions): Request {
    return { method, url: this.base + path, expect, repeatable: 'idempotent', signal: options.signal };
  }

  /** The path form for a task_id; the query form for an external id (it may contain "/", which the path cannot carry). */
  private taskPathOf(ref: TaskRef): string {
    if (typeof ref === 'string' && !ref.includes('/')) return taskPath(ref);
    if (typeof ref === 'object' && 'task_id' in ref) return taskPath(ref.task_id);
    const externalId = typeof ref === 'string' ? ref : ref.external_task_id;
    return `${EXPAND_PATH}?external_task_id=${encodeURIComponent(externalId)}`;
  }

  /** One call with its retries; `onAttempt` is told of each attempt sent. */
  private async call<T>(request: Request, onAttempt?: () => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        onAttempt?.();
        return (await this.attempt(request)) as T;
      } catch (err) {
        if (request.signal?.aborted) throw request.signal.reason;
        const delay = retryDelay(err, attempt, request.repeatable, this.policy);
        if (delay === null) throw err;
        await sleep(delay, request.signal);
      }
    }
  }

  /** One HTTP exchange: the envelope's data, a file's bytes, or an open event stream. */
  private async attempt(request: Request): Promise<unknown> {
    const headers: Record<string, string> = { accept: ACCEPT[request.expect] };
    if (request.expect !== 'bytes') headers.authorization = `Bearer ${await this.tokens.bearer()}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (request.lastEventId) headers['last-event-id'] = request.lastEventId;

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const [signal, release] = request.signal ? eitherSignal(request.signal, timeout.signal) : [timeout.signal, () => {}];
    try {
      let res: Response;
      try {
        res = await this.fetchImpl(request.url, {
          method: request.method,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal,
        });
      } catch (err) {
        throw this.noAnswer(err, request, timeout.signal);
      }
      const type = res.headers.get('content-type') ?? '';
      if (res.ok && request.expect === 'stream' && type.startsWith('text/event-stream')) return res;
      if (res.ok && request.expect === 'bytes') {
        try {
          return new Uint8Array(await res.arrayBuffer());
        } catch (err) {
          throw this.noAnswer(err, request, timeout.signal);
        }
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw this.noAnswer(err, request, timeout.signal);
      }
      const envelope = parseEnvelope(text);
      const requestId = envelope?.request_id || res.headers.get('x-request-id') || '';
      if (envelope && envelope.code === 0 && res.ok && 'data' in envelope && request.expect === 'json') return envelope.data;
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      if (envelope && envelope.code !== 0) {
        throw new OutpaintError({ code: envelope.code, message: envelope.message, status: res.status, request_id: requestId, retryAfter });
      }
      throw new OutpaintError({
        code: UNEXPECTED_RESPONSE,
        status: res.status,
        request_id: requestId,
        retryAfter,
        message: `unexpected answer: HTTP ${res.status} ${type || 'without a content type'}${text ? `: ${text.slice(0, 200)}` : ''}`,
      });
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  /** A failed exchange as an OutpaintError; the caller's own abort is rethrown as it is. */
  private noAnswer(err: unknown, request: Request, timeout: AbortSignal): unknown {
    if (request.signal?.aborted) return request.signal.reason;
    // Without the query: a result link's signature is a credential, and messages end up in logs.
    const what = `${request.method} ${request.url.split('?')[0]}`;
    if (timeout.aborted) return networkError(err, `no answer within ${this.timeoutMs} ms (${what})`);
    return networkError(err, `${what} failed`);
  }
}

/**
 * A signal that aborts with either, and what stops it listening: AbortSignal.any where it exists
 * (Node 20.3+, browsers since 2024), else the same by hand (listeners removed after the attempt, so a
 * long-lived caller's signal does not collect them).
 */
function eitherSignal(a: AbortSignal, b: AbortSignal): [AbortSignal, () => void] {
  if (typeof AbortSignal.any === 'function') return [AbortSignal.any([a, b]), () => {}];
  const both = new AbortController();
  const listeners = [a, b].map((s) => {
    const onAbort = () => both.abort(s.reason);
    if (s.aborted) both.abort(s.reason);
    else s.addEventListener('abort', onAbort, { once: true });
    return () => s.removeEventListener('abort', onAbort);
  });
  return [both.signal, () => listeners.forEach((remove) => remove())];
}

function networkError(cause: unknown, what: string): OutpaintError {
  const detail = cause instanceof Error ? describeCause(cause) : String(cause);
  return new OutpaintError({ code: NETWORK_ERROR, status: 0, message: `${what}: ${detail}`, cause });
}

/** Node's "fetch failed" says little; its cause says what (ECONNREFUSED …). */
function describeCause(err: Error): string {
  const inner = err.cause as { code?: string; message?: string } | undefined;
  return inner && typeof inner === 'object' && (inner.code || inner.message) ? `${err.message} (${inner.code ?? inner.message})` : err.message;
}

function parseTask(data: string, res: Response): Task {
  try {
    return JSON.parse(data) as Task;
  } catch {
    throw new OutpaintError({ code: UNEXPECTED_RESPONSE, status: res.status, request_id: res.headers.get('x-request-id') ?? '', message: `an event that is not JSON: ${data.slice(0, 200)}` });
  }
}

function parseEnvelope(text: string): Envelope<unknown> | null {
  try {
    const value = JSON.parse(text) as Envelope<unknown>;
    return value && typeof value === 'object' && typeof value.code === 'number' && typeof value.message === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** `retry-after` in seconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
