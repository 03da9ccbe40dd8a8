/**
 * Callbacks under a kill during delivery: the server is SIGKILLed twice while a slow receiver holds a
 * callback open (unanswered); after each restart the receiver gets it again under the same webhook-id
 * with the same body, and every status change of the task arrives under exactly one id.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { api, createKeys, freePort, startServer, stopServer, tempDataDir, token, waitFor } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

interface Arrival {
  webhookId: string;
  status: string;
  body: string;
}

test('SIGKILL while a slow receiver holds a callback: redelivered after restart under the same webhook-id', { timeout: 120_000 }, async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const keys = await createKeys(data.dir, 'kill');
  const wh = new Webhook(keys.webhook_secret);
  const arrivals: Arrival[] = [];
  let hold = true;
  const held: http.ServerResponse[] = [];
  const receiver = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      const body = wh.verify(raw, headers) as { task_status: string };
      arrivals.push({ webhookId: headers['webhook-id'], status: body.task_status, body: raw });
      if (hold) held.push(res); // a slow receiver: no answer (yet)
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    receiver.closeAllConnections();
    receiver.close();
  });
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const env = {
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: String(await freePort()),
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    // A delivery's lease is this + 5 s: a killed server's delivery comes back that long after.
    OUTPAINT_CALLBACK_TIMEOUT_MS: '20000',
  };
  let server = await startServer(env);
  t.after(() => stopServer(server, 'SIGKILL'));
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: (await scenePng(480, 360, 2)).toString('base64'),
    left_expansion_ratio: 0.5,
    callback_url: callbackUrl,
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const taskId = created.body.data.task_id;

  // Round 1: the 'submitted' callback arrives and is held; kill. Round 2: it comes back; kill again.
  const submittedArrivals = () => arrivals.filter((a) => a.status === 'submitted').length;
  for (let round = 1; round <= 2; round++) {
    await waitFor(`the 'submitted' callback (delivery ${round})`, async () => submittedArrivals() >= round, 60_000);
    assert.equal(await stopServer(server, 'SIGKILL'), 'SIGKILL');
    held.splice(0).forEach((res) => res.destroy());
    server = await startServer(env);
  }
  hold = false;

  const done = await waitFor('the task to succeed', async () => {
    const q = await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, bearer);
    return q.body.data.task_status === 'succeed' ? q.body.data : null;
  }, 90_000);
  assert.equal(done.task_status, 'succeed');
  await waitFor('every status change delivered', async () => ['processing', 'succeed'].every((s) => arrivals.some((a) => a.status === s)) && submittedArrivals() >= 3, 60_000);

  const byStatus = new Map<string, Arrival[]>();
  for (const a of arrivals) byStatus.set(a.status, [...(byStatus.get(a.status) ?? []), a]);
  assert.deepEqual([...byStatus.keys()].sort(), ['processing', 'submitted', 'succeed']);
  for (const [status, list] of byStatus) {
    assert.equal(new Set(list.map((a) => a.webhookId)).size, 1, `'${status}' arrived under ${new Set(list.map((a) => a.webhookId)).size} ids`);
    assert.equal(new Set(list.map((a) => a.body)).size, 1, `'${status}' arrived with different bodies`);
  }
  assert.ok(byStatus.get('submitted')!.length >= 3, `'submitted' arrived ${byStatus.get('submitted')!.length} times (2 kills)`);
  t.diagnostic(`arrivals per status: ${[...byStatus].map(([s, l]) => `${s} ×${l.length} (id ${l[0].webhookId})`).join(', ')}`);
});
