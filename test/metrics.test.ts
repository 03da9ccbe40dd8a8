/**
 * GET /metrics through the real server process: Prometheus text from prom-client, behind the setting's
 * bearer token (401 in the Kling envelope without it), off by default (404). Scraped before and after a
 * real task runs: the request counter of the create route, the succeed gauge, the engine histogram, the
 * callback outcomes and the bytes written move by what the task did.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { api, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { parseSamples, sampleValue, type Sample } from './support/prometheus.js';
import type { Receiver } from './support/receiver.js';
import { serveAccount, type ServedAccount } from './support/served-account.js';

const EXPAND = '/v1/images/editing/expand';
const METRICS_TOKEN = randomBytes(24).toString('hex');

describe('GET /metrics with OUTPAINT_METRICS=bearer:TOKEN', () => {
  let served: ServedAccount;
  let keys: Keys;
  let receiver: Receiver;
  let server: ServerProcess;
  before(async () => {
    // The first attempt of each delivery fails once, so that both outcomes are counted.
    served = await serveAccount('metrics', { OUTPAINT_METRICS: `bearer:${METRICS_TOKEN}` }, ({ seen }) => (seen === 0 ? 500 : 200));
    ({ keys, server, receiver } = served);
  });
  after(() => served.close('SIGKILL'));

  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseSamples(await res.text());
  };

  it('wants the metrics token: missing is 401 / 1001, wrong (an API key too) is 401 / 1002, in the envelope', async () => {
    const missing = await fetch(`${server.url}/metrics`);
    assert.equal(missing.status, 401);
    const body = (await missing.json()) as { code: number; message: string; request_id: string };
    assert.equal(body.code, 1001);
    assert.match(body.message, /metrics bearer token/);
    assert.ok(body.request_id);
    for (const wrong of [METRICS_TOKEN.slice(1), keys.secret_key, `${METRICS_TOKEN}x`]) {
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${wrong}` } });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: number }).code, 1002);
    }
  });

  it('counts a real task: requests by route and status, tasks by status, engine time per megapixel, callbacks, bytes', async () => {
    const bearer = await token(keys);
    const before = await scrape();
    const image = await scenePng(320, 320);
    const created = await api(server.url, 'POST', EXPAND, bearer, {
      image: image.toString('base64'),
      left_expansion_ratio: 0.5,
      n: 2,
      callback_url: receiver.url,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const taskId = created.body.data.task_id;
    const task = await waitFor('the task to succeed', async () => {
      const q = await api(server.url, 'GET', `${EXPAND}/${taskId}`, bearer);
      return q.body.data.task_status === 'succeed' ? q.body.data : null;
    });
    await waitFor('the three callbacks delivered', async () => receiver.received.filter((r) => r.answered === 200).length === 3, 30_000);
    assert.equal((await api(server.url, 'GET', '/no/such/route', null)).status, 404);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);

    assert.equal(delta('outpaint_http_requests_total', { method: 'POST', route: EXPAND, status: '200' }), 1, 'one create');
    assert.ok(delta('outpaint_http_requests_total', { method: 'GET', route: `${EXPAND}/:id`, status: '200' }) >= 1, 'polls, by route pattern');
    assert.equal(delta('outpaint_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1, 'no raw URL as a label');
    assert.ok(!after.some((s) => s.labels.route?.includes(taskId)), 'no task id in any label');
    assert.equal(delta('outpaint_http_request_duration_seconds_count', { method: 'POST', route: EXPAND }), 1);
    assert.equal(delta('outpaint_http_request_duration_seconds_bucket', { method: 'POST', route: EXPAND, le: '+Inf' }), 1);
    const buckets = after.filter((s) => s.name === 'outpaint_http_request_duration_seconds_bucket' && s.labels.route === EXPAND && s.labels.method === 'POST');
    assert.equal(buckets.length, 15, '14 bounds and +Inf');
    assert.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value), 'cumulative');
    assert.equal(delta('outpaint_tasks', { status: 'succeed' }), 1);
    assert.equal(sampleValue(after, 'outpaint_tasks', { status: 'processing' }), 0);
    assert.equal(delta('outpaint_engine_seconds_per_megapixel_count'), 1, 'one engine run');
    assert.ok(delta('outpaint_engine_seconds_per_megapixel_sum') > 0);
    assert.equal(sampleValue(after, 'outpaint_queue_depth'), 0);
    assert.equal(sampleValue(after, 'outpaint_queue_oldest_age_seconds'), 0);
    assert.equal(delta('outpaint_callback_deliveries_total', { outcome: 'delivered' }), 3, 'submitted, processing, succeed');
    assert.equal(delta('outpaint_callback_deliveries_total', { outcome: 'failed' }), 3, 'each first attempt answered 500');
    assert.equal(sampleValue(after, 'outpaint_callback_outbox_pending'), 0);
    assert.equal(delta('outpaint_blob_written_bytes_total', { kind: 'inputs' }), image.length, 'the input as uploaded');
    const results = await Promise.all(task.task_result.images.map(async (img: { url: string }) => (await (await fetch(img.url)).arrayBuffer()).byteLength));
    assert.equal(delta('outpaint_blob_written_bytes_total', { kind: 'results' }), results.reduce((a: number, b: number) => a + b, 0), 'the two PNGs');
    assert.ok(sampleValue(after, 'process_resident_memory_bytes') > 0, 'process metrics too');
  });

  it('shows a waiting job and its age while the engine is busy', async () => {
    const bearer = await token(keys);
    const image = (await scenePng(600, 400, 3)).toString('base64');
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await api(server.url, 'POST', EXPAND, bearer, { image, left_expansion_ratio: 1, n: 2 });
      ids.push(res.body.data.task_id);
    }
    // One engine thread, one job at a time: the second waits.
    const waiting = await waitFor('a waiting job at least 0.2 s old', async () => {
      const s = await scrape();
      return sampleValue(s, 'outpaint_queue_depth') === 1 && sampleValue(s, 'outpaint_queue_oldest_age_seconds') >= 0.2 ? s : null;
    }, 20_000);
    assert.ok(sampleValue(waiting, 'outpaint_tasks', { status: 'submitted' }) + sampleValue(waiting, 'outpaint_tasks', { status: 'processing' }) === 2);
    for (const id of ids) await api(server.url, 'POST', `${EXPAND}/${id}/cancel`, bearer);
  });
});

describe('OUTPAINT_METRICS off (the default) and open', () => {
  it('off: 404 / 1203 naming the setting; open: anyone may scrape', async () => {
    const data = await tempDataDir();
    try {
      const off = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' });
      const res = await api(off.url, 'GET', '/metrics', null);
      assert.deepEqual([res.status, res.body.code], [404, 1203]);
      assert.match(res.body.message, /OUTPAINT_METRICS=off/);
      await stopServer(off);
      const open = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', OUTPAINT_METRICS: 'open' });
      const scraped = await fetch(`${open.url}/metrics`);
      assert.equal(scraped.status, 200);
      assert.ok(sampleValue(parseSamples(await scraped.text()), 'outpaint_tasks', { status: 'succeed' }) >= 0);
      await stopServer(open);
    } finally {
      await data.cleanup();
    }
  });

  it('a short or malformed setting is refused at start, exit 2, without echoing the token', async () => {
    const { runCli } = await import('./support/outpaint-process.js');
    const data = await tempDataDir();
    try {
      for (const [value, message] of [
        ['bearer:short-secret', /OUTPAINT_METRICS: the bearer token must be at least 16 characters/],
        ['on', /OUTPAINT_METRICS: expected off, open or bearer:TOKEN/],
      ] as const) {
        const res = await runCli(['serve'], { env: { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_METRICS: value } });
        assert.equal(res.code, 2, res.stderr);
        assert.match(res.stderr, message);
        assert.doesNotMatch(res.stderr, /short-secret/);
      }
    } finally {
      await data.cleanup();
    }
  });
});
