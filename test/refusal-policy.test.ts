/**
 * Refusals through the real server process: the 1302 message states the real limit and window and
 * `retry-after` the time left; expected refusals (1001–1303, 5001) log one line at info or warn without a
 * stack, and only a real fault logs at error, with its stack. Read from the server's JSON log (stdout).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';

interface LogLine {
  level: number;
  msg: string;
  code?: number;
  err?: { stack?: string };
  stack?: string;
  [k: string]: unknown;
}

const logLines = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

async function badJson(base: string, bearer: string): Promise<number> {
  const res = await fetch(base + EXPAND, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: '{',
  });
  return ((await res.json()) as { code: number }).code;
}

test('1302 names the limit and its window; retry-after is the time left', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const keys = await createKeys(data.dir);
  const server = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_RATE_LIMIT: '4' });
  t.after(() => stopServer(server, 'SIGKILL'));
  const bearer = await token(keys);

  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await api(server.url, 'GET', EXPAND, bearer)).status);
  assert.deepEqual(statuses, [200, 200, 200, 200]);
  const first = await fetch(server.url + EXPAND, { headers: { authorization: `Bearer ${bearer}` } });
  const firstBody = (await first.json()) as { code: number; message: string };
  const firstWait = Number(first.headers.get('retry-after'));
  assert.equal(first.status, 429);
  assert.equal(firstBody.code, 1302);
  assert.match(firstBody.message, /^too many requests: at most 4 per minute for this account; retry in \d+ s$/);
  assert.ok(firstWait >= 55 && firstWait <= 60, `retry-after ${firstWait} s right after the window opened`);
  assert.equal(firstBody.message, `too many requests: at most 4 per minute for this account; retry in ${firstWait} s`);

  await new Promise((r) => setTimeout(r, 2500));
  const later = await fetch(server.url + EXPAND, { headers: { authorization: `Bearer ${bearer}` } });
  const laterWait = Number(later.headers.get('retry-after'));
  assert.ok(laterWait <= firstWait - 2 && laterWait >= firstWait - 4, `retry-after went from ${firstWait} to ${laterWait} s in 2.5 s`);

  // Unauthenticated requests are counted per IP address, and the message says so.
  let anonymous: { code: number; message: string } | null = null;
  for (let i = 0; i < 5; i++) anonymous = (await api(server.url, 'GET', EXPAND, null)).body;
  assert.equal(anonymous!.code, 1302);
  assert.match(anonymous!.message, /^too many requests: at most 4 per minute for this IP address; retry in \d+ s$/);
});

test('expected refusals log at info or warn without a stack; a real fault logs at error with its stack', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const alice = await createKeys(data.dir, 'alice');
  const bob = await createKeys(data.dir, 'bob');
  const server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_LOG_LEVEL: 'info',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'best',
    OUTPAINT_MAX_QUEUE: '1',
    OUTPAINT_ACCOUNT_CONCURRENCY: '2',
  });
  t.after(() => stopServer(server, 'SIGKILL'));
  const [a, b] = [await token(alice), await token(bob)];
  const image = (await scenePng(900, 600, 3)).toString('base64');
  const create = (bearer: string) => api(server.url, 'POST', EXPAND, bearer, { image, left_expansion_ratio: 1, right_expansion_ratio: 1 });

  // Alice's first task runs, her second waits (the queue of 1 is full): Bob is refused 5001, and Alice,
  // holding both her slots, 1303.
  const running = await create(a);
  assert.equal(running.status, 200, JSON.stringify(running.body));
  await waitFor('the first task to run', async () =>
    (await api(server.url, 'GET', `${EXPAND}/${running.body.data.task_id}`, a)).body.data.task_status === 'processing',
  );
  assert.equal((await create(a)).status, 200);
  const expected = new Map<number, number>([
    [5001, (await create(b)).body.code],
    [1303, (await create(a)).body.code],
    [1001, (await api(server.url, 'GET', EXPAND, null)).body.code],
    [1002, (await api(server.url, 'GET', EXPAND, 'not-a-token')).body.code],
    [1200, await badJson(server.url, a)],
    [1201, (await api(server.url, 'POST', EXPAND, a, { image, n: 0, left_expansion_ratio: 1 })).body.code],
    [1202, (await api(server.url, 'DELETE', EXPAND, a)).body.code],
    [1203, (await api(server.url, 'GET', `${EXPAND}/nothing-here`, a)).body.code],
  ]);
  for (const [want, got] of expected) assert.equal(got, want);

  // A real fault: the blob store's temp directory replaced by a file, so storing the input fails.
  const tmp = path.join(data.dir, 'blobs', 'tmp');
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.writeFile(tmp, 'not a directory');
  const fault = await create(b);
  assert.deepEqual([fault.status, fault.body.code, fault.body.message], [500, 5000, 'internal error']);

  const lines = await waitFor('the fault in the log', async () => {
    const all = logLines(server.stdout());
    return all.some((l) => l.msg === 'request failed') ? all : null;
  });
  const refused = lines.filter((l) => l.msg === 'request refused');
  for (const code of expected.keys()) {
    const line = refused.find((l) => l.code === code);
    assert.ok(line, `a 'request refused' line for ${code}`);
    assert.equal(line.level, code >= 5000 ? 40 : 30, `level of ${code}`);
  }
  for (const line of refused) {
    assert.equal(line.err, undefined, JSON.stringify(line));
    assert.ok(!JSON.stringify(line).includes('    at '), `no stack in ${JSON.stringify(line)}`);
  }
  const failed = lines.filter((l) => l.msg === 'request failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].level, 50);
  assert.match(failed[0].err?.stack ?? '', /ENOTDIR|EEXIST|not a directory/i);
  assert.match(failed[0].err?.stack ?? '', /\n\s+at /);
  // Nothing else was an error (the running jobs had not yet hit the broken directory when it was read).
  const errors = lines.filter((l) => l.level >= 50 && l.msg !== 'request failed' && !/job failed unexpectedly/.test(l.msg));
  assert.deepEqual(errors, []);
});
