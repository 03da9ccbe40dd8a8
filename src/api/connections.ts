/**
 * Connections per client address: one address (a flood of idle or trickling connections) may hold at
 * most `perAddress` at once; one more is answered 503 / 5001 in the envelope and closed at once, so the
 * server's connections and file descriptors stay for everyone else. Refusals are logged at warn, at most
 * one line per 10 s with their count. On a TLS port the refusal is the close alone: an answer would need
 * the handshake first, and a refused flood must not cost a handshake each.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ERRORS } from '../contract/errors.js';

const LOG_EVERY_MS = 10_000;

export function limitConnectionsPerAddress(
  server: Server,
  perAddress: number,
  logger: Pick<Logger, 'warn'>,
  newRequestId: () => string,
  { tls }: { tls: boolean },
): void {
  if (perAddress <= 0) return;
  const open = new Map<string, number>();
  let refused = 0;
  let lastLog = 0;
  // Before Node's own listener: a refused socket is closed before any request on it is parsed.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = open.get(address) ?? 0;
    if (count >= perAddress) {
      const requestId = newRequestId();
      const body = JSON.stringify({
        code: ERRORS.UNAVAILABLE.code,
        message: `too many connections from one address (at most ${perAddress}); close some and retry`,
        request_id: requestId,
      });
      socket.on('error', () => undefined);
      // A fresh socket's send buffer is empty: the answer leaves in this write, before the close.
      if (!tls) socket.write(
        `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n${body}`,
      );
      socket.destroy();
      refused++;
      const now = Date.now();
      if (now - lastLog >= LOG_EVERY_MS) {
        logger.warn({ address, refused, limit: perAddress }, 'connections refused: too many from one address');
        refused = 0;
        lastLog = now;
      }
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
