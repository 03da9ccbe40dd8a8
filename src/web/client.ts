/**
 * The page's HTTP client: the contract's paths and shapes (src/contract), the Kling envelope unwrapped,
 * failures turned into ApiFailure with the server's message and the field it names. Paths are resolved
 * against the page's own address, so the page works behind a proxy that serves Outpaint under a prefix.
 */
import { ACCESS_TOKEN_PARAM, cancelPath, EXPAND_PATH, eventsPath, taskPath } from '../contract/paths.js';
import type { CreatedTask, ErrorEnvelope, ExpandBody, Task } from '../contract/schemas.js';
import type { TokenSource } from './credentials.js';
import { fieldOf } from './error-places.js';

/** A refusal in the Kling envelope, or a failure to reach the server at all (code 0). */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }

  /** The field a 1201 names (`field: rule`), e.g. "image", "n", "left_expansion_ratio", "expansion ratios". */
  get field(): string | null {
    return fieldOf(this.message);
  }

  /** 1000–1004: the keys or the token. */
  get isAuthFailure(): boolean {
    return this.code >= 1000 && this.code <= 1004;
  }
}

/** A URL of the API, relative to where the page is served. */
export function apiUrl(path: string): URL {
  return new URL(`.${path}`, document.baseURI);
}

export class OutpaintClient {
  constructor(private readonly tokens: TokenSource) {}

  create(body: ExpandBody): Promise<CreatedTask> {
    return this.call<CreatedTask>('POST', EXPAND_PATH, body);
  }

  get(taskId: string): Promise<Task> {
    return this.call<Task>('GET', taskPath(taskId));
  }

  /** A page of the account's tasks, newest first; a page shorter than pageSize is the last. */
  list(pageNum: number, pageSize: number): Promise<Task[]> {
    return this.call<Task[]>('GET', `${EXPAND_PATH}?pageNum=${pageNum}&pageSize=${pageSize}`);
  }

  cancel(taskId: string): Promise<Task> {
    return this.call<Task>('POST', cancelPath(taskId));
  }

  /** The events URL with a fresh token in it: EventSource cannot send headers. */
  async eventsUrl(taskId: string): Promise<string> {
    const url = apiUrl(eventsPath(taskId));
    url.searchParams.set(ACCESS_TOKEN_PARAM, await this.tokens.bearer());
    return url.href;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(apiUrl(path), {
        method,
        headers: {
          authorization: `Bearer ${await this.tokens.bearer()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiFailure(`cannot reach the server (${(err as Error).message})`, 0, 0);
    }
    let envelope: { code: number; message: string; data?: T } | ErrorEnvelope;
    try {
      envelope = (await res.json()) as typeof envelope;
    } catch {
      throw new ApiFailure(`the server answered HTTP ${res.status} without a JSON body`, 0, res.status);
    }
    if (envelope.code !== 0 || !('data' in envelope)) throw new ApiFailure(envelope.message, envelope.code, res.status);
    return envelope.data as T;
  }
}

/** Downloads a result (signed link, no token) as a Blob, to use it as a new input. */
export async function fetchImage(url: string): Promise<Blob> {
  const res = await fetch(url);
  if (!res.ok) {
    const text = await res.text();
    let message = `HTTP ${res.status}`;
    try {
      message = (JSON.parse(text) as ErrorEnvelope).message;
    } catch {
      // not JSON
    }
    throw new ApiFailure(`the result could not be downloaded: ${message}`, 0, res.status);
  }
  return res.blob();
}
