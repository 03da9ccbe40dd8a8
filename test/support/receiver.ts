/** A callback receiver on loopback that verifies Standard Webhooks signatures like a real client would. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedCallback {
  webhookId: string;
  body: any;
  /** The status code the receiver answered with. */
  answered: number;
  /** The body as received, and the request's headers (for checking signatures again elsewhere). */
  raw: string;
  headers: http.IncomingHttpHeaders;
}

export interface Receiver {
  url: string;
  received: ReceivedCallback[];
  close(): Promise<void>;
}

/**
 * `answer` decides the status code of each delivery (after the signature checked out); a bad signature
 * is answered 400 and recorded nowhere.
 */
export async function startReceiver(
  webhookSecret: string,
  answer: (delivery: { webhookId: string; body: any; seen: number }) => number = () => 200,
): Promise<Receiver> {
  const wh = new Webhook(webhookSecret);
  const received: ReceivedCallback[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      let body: any;
      try {
        body = wh.verify(raw, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
      } catch {
        res.writeHead(400).end();
        return;
      }
      const webhookId = String(req.headers['webhook-id']);
      const seen = received.filter((r) => r.webhookId === webhookId).length;
      const status = answer({ webhookId, body, seen });
      received.push({ webhookId, body, answered: status, raw, headers: req.headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
