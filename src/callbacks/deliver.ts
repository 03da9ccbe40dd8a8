/**
 * How a callback reaches its receiver. The dispatcher takes any DeliverFn; the composition root passes the
 * SSRF-safe client's `post` (src/net/safe-http.ts), which follows no redirect and enforces the timeout.
 */

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
