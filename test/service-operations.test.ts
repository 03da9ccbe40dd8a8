/**
 * Operations of the running service (`outpaint serve` as a process, real files): the periodic sweep
 * deletes expired result files from disk; an account's slots come back when its task finishes; callbacks
 * never follow a redirect and give a slow receiver only OUTPAINT_CALLBACK_TIMEOUT_MS.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';
/** 0.00003 days: result files and links live 2.6 s. */
const TTL_DAYS = '0.00003';

let data: Awaited<ReturnType<typeof tempDataDir>>;
let keys: Keys;
let hookKeys: Keys;
let server: ServerProcess;

interface Arrival {
  path: string;
  at: number;
  /** When the server hung up (or we answered). */
  closedAt: number | null;
  headers: http.IncomingHttpHeaders;
}
const arrivals: Arrival[] = [];
let hooks: http.Server;
let hooksUrl: string;

before(async () => {
  data = await tempDataDir();
  keys = await createKeys(data.dir, 'ops');
  hookKeys = await createKeys(data.dir, 'hooks');
  hooks = http.createServer((req, res) => {
    const arrival: Arrival = { path: req.url ?? '', at: Date.now(), closedAt: null, headers: req.headers };
    arrivals.push(arrival);
    res.on('close', () => (arrival.closedAt = Date.now()));
    req.resume();
    if (req.url === '/redirect') res.writeHead(307, { location: '/followed' }).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 5000).unref();
    else res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_RESULT_TTL_DAYS: TTL_DAYS,
    OUTPAINT_SWEEP_INTERVAL_S: '1',
    OUTPAINT_ACCOUNT_CONCURRENCY: '1',
    OUTPAINT_CALLBACK_TIMEOUT_MS: '500',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
  });
});
after(async () => {
  if (server) await stopServer(server);
  hooks?.closeAllConnections();
  hooks?.close();
  await data?.cleanup();
});

async function finished(bearer: string, taskId: string): Promise<any> {
  return waitFor('the task to finish', async () => {
    const q = await api(server.url, 'GET', `${EXPAND}/${taskId}`, bearer);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  });
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

test('the sweep deletes expired result files from disk; their links then answer 1103', async () => {
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', EXPAND, bearer, {
    image: (await scenePng(320, 300, 4)).toString('base64'),
    left_expansion_ratio: 0.25,
    watermark_info: { enabled: true },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const taskId: string = created.body.data.task_id;

  const task = await finished(bearer, taskId);
  assert.equal(task.task_status, 'succeed', task.task_status_msg);
  const blobs = path.join(data.dir, 'blobs');
  const files = ['0.png', '0-watermarked.png'].flatMap((f) => [
    path.join(blobs, 'data', 'results', taskId, f),
    path.join(blobs, 'meta', 'results', taskId, `${f}.json`),
  ]);
  const link = new URL(task.task_result.images[0].url);
  const linkExpires = Number(link.searchParams.get('expires')) * 1000;
  const fileExpires = task.updated_at + Number(TTL_DAYS) * 86_400_000;
  assert.ok(linkExpires >= fileExpires && linkExpires - fileExpires <= 1000, 'links live OUTPAINT_RESULT_TTL_DAYS (rounded up to a second)');
  if (Date.now() < fileExpires - 300) {
    for (const f of files) assert.ok(await exists(f), `${f} written`);
  }

  await waitFor('the sweep to delete the result files', async () => {
    for (const f of files) if (await exists(f)) return false;
    return true;
  }, 15_000);
  assert.ok(Date.now() >= fileExpires, 'nothing was deleted before it expired');
  await new Promise((r) => setTimeout(r, Math.max(0, linkExpires - Date.now() + 50)));
  const answer = await api(server.url, 'GET', link.pathname + link.search, null);
  assert.deepEqual([answer.status, answer.body.code, answer.body.message], [403, 1103, 'no permission: the link has expired']);
  // The input is kept longer (at least a week), for a task retried late.
  assert.ok(await exists(path.join(blobs, 'data', 'inputs', taskId)));
});

test('the account gets its slot back when its task finishes', async () => {
  const bearer = await token(keys);
  const body = { image: (await scenePng(320, 300, 6)).toString('base64'), up_expansion_ratio: 0.5 };
  const first = await api(server.url, 'POST', EXPAND, bearer, body);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const refused = await api(server.url, 'POST', EXPAND, bearer, body);
  assert.deepEqual([refused.status, refused.body.code], [429, 1303]);
  assert.equal(refused.body.message, 'too many tasks running at once for this account (each task holds n slots); retry when one finishes');
  assert.equal((await finished(bearer, first.body.data.task_id)).task_status, 'succeed');
  const again = await api(server.url, 'POST', EXPAND, bearer, body);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  await finished(bearer, again.body.data.task_id);
});

test('callbacks follow no redirect and give a receiver OUTPAINT_CALLBACK_TIMEOUT_MS to answer', async () => {
  const bearer = await token(hookKeys);
  const ids: Record<string, string> = {};
  for (const hook of ['redirect', 'slow']) {
    const res = await api(server.url, 'POST', EXPAND, bearer, {
      image: (await scenePng(320, 300, 7)).toString('base64'),
      up_expansion_ratio: 0.2,
      callback_url: `${hooksUrl}/${hook}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    ids[hook] = res.body.data.task_id;
    await finished(bearer, ids[hook]);
  }
  const lastError = (taskId: string) => {
    const db = new Database(path.join(data.dir, 'outpaint.db'), { readonly: true });
    try {
      return (db.prepare("SELECT last_error AS e FROM callbacks WHERE task_id = ? AND state = 'pending' ORDER BY seq LIMIT 1").get(taskId) as { e: string | null } | undefined)?.e;
    } finally {
      db.close();
    }
  };
  await waitFor('both receivers to have been tried', async () =>
    arrivals.some((a) => a.path === '/redirect') && arrivals.some((a) => a.path === '/slow' && a.closedAt !== null) &&
    lastError(ids.redirect) !== null && lastError(ids.slow) !== null,
  15_000);

  assert.ok(!arrivals.some((a) => a.path === '/followed'), 'the redirect was not followed');
  assert.equal(lastError(ids.redirect), 'HTTP 307 (redirects are not followed)');
  const slow = arrivals.find((a) => a.path === '/slow')!;
  const waited = slow.closedAt! - slow.at;
  assert.ok(waited >= 400 && waited < 4000, `the server hung up after ${waited} ms`);
  assert.match(lastError(ids.slow) ?? '', /timed out after 500 ms/);
  for (const a of arrivals) assert.match(String(a.headers['webhook-signature']), /^v1,/);
});
