/**
 * The one registry of Kling error codes (docs/kling-api.md, "Error codes").
 * Every failure that reaches a client is an ApiError built from this table; a test holds the table
 * against the contract and against the OpenAPI document.
 */
export const ERRORS = {
  AUTH_FAILED: { code: 1000, status: 401, message: 'authentication failed' },
  AUTH_MISSING: { code: 1001, status: 401, message: 'Authorization header missing or empty' },
  AUTH_INVALID: { code: 1002, status: 401, message: 'Authorization invalid' },
  TOKEN_NOT_YET_VALID: { code: 1003, status: 401, message: 'token not yet valid' },
  TOKEN_EXPIRED: { code: 1004, status: 401, message: 'token expired' },
  ACCOUNT_ABNORMAL: { code: 1100, status: 429, message: 'account abnormal' },
  ACCOUNT_IN_ARREARS: { code: 1101, status: 429, message: 'account in arrears' },
  RESOURCE_PACK_EXHAUSTED: { code: 1102, status: 429, message: 'resource pack exhausted' },
  NO_PERMISSION: { code: 1103, status: 403, message: 'no permission for this resource' },
  INVALID_REQUEST: { code: 1200, status: 400, message: 'invalid request' },
  INVALID_PARAMETER: { code: 1201, status: 400, message: 'invalid parameter' },
  WRONG_METHOD: { code: 1202, status: 404, message: 'wrong HTTP method' },
  NOT_FOUND: { code: 1203, status: 404, message: 'resource does not exist' },
  PLATFORM_POLICY: { code: 1300, status: 400, message: 'platform policy triggered' },
  CONTENT_POLICY: { code: 1301, status: 400, message: 'content policy triggered' },
  TOO_MANY_REQUESTS: { code: 1302, status: 429, message: 'too many requests' },
  TOO_MANY_TASKS: { code: 1303, status: 429, message: 'too many tasks running at once for this account' },
  IP_NOT_ALLOWED: { code: 1304, status: 429, message: 'IP allow-list policy' },
  INTERNAL: { code: 5000, status: 500, message: 'internal error' },
  UNAVAILABLE: { code: 5001, status: 503, message: 'temporarily unavailable' },
  TIMEOUT: { code: 5002, status: 504, message: 'internal timeout' },
} as const;

export type ErrorKind = keyof typeof ERRORS;

/** A failure with a Kling code; `message` is what the client reads, so it names the field and the rule. */
export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly code: number;
  readonly status: number;
  /** Sent as `retry-after` (seconds) when set: when a refused client may try again. */
  readonly retryAfterSeconds?: number;

  /**
   * `cause` is set when a fault (not a rule) made the service refuse, e.g. a full disk: it is logged as
   * an error; a refusal without one is an expected answer.
   */
  constructor(kind: ErrorKind, message?: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message ?? ERRORS[kind].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.kind = kind;
    this.code = ERRORS[kind].code;
    this.status = ERRORS[kind].status;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A 1201 whose message is `field: rule`. */
export function invalidParameter(field: string, rule: string): ApiError {
  return new ApiError('INVALID_PARAMETER', `${field}: ${rule}`);
}
