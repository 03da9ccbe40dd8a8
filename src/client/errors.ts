/**
 * Every failure of a call is an OutpaintError: the Kling `code`, `message` and `request_id` of the
 * server's envelope with the HTTP `status`, or, when there was no such answer, one of the negative codes
 * below (never a Kling code), so that `err.code` is always a number to switch on.
 */

/** The request got no answer: the connection failed, was cut, or timed out. `status` is 0. */
export const NETWORK_ERROR = -1;
/** The answer was not Kling's envelope (e.g. a proxy's HTML 502); `status` is its HTTP status. */
export const UNEXPECTED_RESPONSE = -2;

export interface OutpaintErrorInit {
  code: number;
  message: string;
  status: number;
  request_id?: string;
  /** Seconds from the answer's `retry-after` header, when it had one. */
  retryAfter?: number;
  cause?: unknown;
}

export class OutpaintError extends Error {
  /** A Kling code (1000–5002), or NETWORK_ERROR / UNEXPECTED_RESPONSE. */
  readonly code: number;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** The server's request id ('' when there was no answer): quote it when reporting a problem. */
  readonly request_id: string;
  readonly retryAfter?: number;

  constructor(init: OutpaintErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'OutpaintError';
    this.code = init.code;
    this.status = init.status;
    this.request_id = init.request_id ?? '';
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
  }

  /**
   * Worth trying again later: rate limited (1302), a server-side fault or overload (5000–5999), a
   * gateway's 502/503/504, or no answer at all. Never a refusal of the request itself (1000–1304).
   */
  get retryable(): boolean {
    if (this.code === 1302 || (this.code >= 5000 && this.code < 6000) || this.code === NETWORK_ERROR) return true;
    return this.code === UNEXPECTED_RESPONSE && [502, 503, 504].includes(this.status);
  }

  override toString(): string {
    const id = this.request_id ? `, request_id ${this.request_id}` : '';
    return `${this.name} ${this.code} (HTTP ${this.status}${id}): ${this.message}`;
  }
}
