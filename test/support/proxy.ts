/**
 * A forwarding proxy on loopback in front of a real server: it counts every request that reaches it and
 * can break the connection before forwarding (the request never arrives) or after (the server acted,
 * the answer is lost), or run something first. Answers are the server's own, never made up.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  authorization: string;
}

/** What to do with one request: forward it, or cut the connection before or after forwarding. */
export type Plan = 'forward' | 'drop-before' | 'drop-after';

export interface Proxy {
  url: string;
  seen: Seen[];
  /** Requests seen whose method and path (before any query) match. */
  count(method: string, pathPrefix: string): number;
  close(): Promise<void>;
}

export async function startProxy(
  upstream: string,
  plan: (req: Seen, index: number) => Plan | Promise<Plan> = () => 'forward',
  port = 0,
): Promise<Proxy> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, authorization: String(req.headers.authorization ?? '') };
      seen.push(entry);
      void (async () => {
        const action = await plan(entry, seen.length - 1);
        if (action === 'drop-before') return req.socket.destroy();
        const headers = { ...req.headers } as Record<string, string>;
        for (const name of ['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']) delete headers[name];
        const answer = await fetch(upstream + req.url, {
          method: req.method,
          headers,
          body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        });
        const body = Buffer.from(await answer.arrayBuffer());
        if (action === 'drop-after') return req.socket.destroy();
        const out: Record<string, string> = {};
        answer.headers.forEach((value, name) => {
          if (!['content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) out[name] = value;
        });
        out['content-length'] = String(body.length);
        res.writeHead(answer.status, out).end(body);
      })().catch((err: Error) => res.writeHead(599).end(`proxy failed: ${err.message} ${String(err.cause ?? '')}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    count: (method, pathPrefix) => seen.filter((s) => s.method === method && s.url.split('?')[0].startsWith(pathPrefix)).length,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
