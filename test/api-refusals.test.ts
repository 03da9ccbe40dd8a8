/**
 * A refused create leaves nothing behind: after every kind of refusal, the data directory holds the same
 * files (no input blob, no temp file, no sidecar) and the database the same task, job and callback rows
 * as before; nobody was woken. Checked on the real files under OUTPAINT_DATA_DIR.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { makeGif, makePng } from './support/images.js';

const EXPAND = '/v1/images/editing/expand';

interface State {
  files: string[];
  tasks: string[];
  jobs: string[];
  callbacks: string[];
  created: number;
}

/** What a create could have left: every file under the data directory's blobs, and the rows. */
async function state(api: TestApi): Promise<State> {
  const root = path.join(api.config.dataDir, 'blobs');
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join((e as { parentPath?: string }).parentPath ?? e.path, e.name)))
    .sort();
  const db = new Database(path.join(api.config.dataDir, 'outpaint.db'), { readonly: true });
  try {
    const column = (sql: string) => (db.prepare(sql).all() as { v: string }[]).map((r) => r.v);
    return {
      files,
      tasks: column('SELECT id AS v FROM tasks ORDER BY id'),
      jobs: column('SELECT task_id AS v FROM jobs ORDER BY task_id'),
      callbacks: column("SELECT task_id || ' ' || url AS v FROM callbacks ORDER BY seq"),
      created: api.created,
    };
  } finally {
    db.close();
  }
}

let images: http.Server;
let imageBase: string;
before(async () => {
  images = http.createServer((req, res) => {
    if (req.url === '/missing.png') res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('GIF89a, whatever the name says'));
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
});
after(() => {
  images.closeAllConnections();
  images.close();
});

describe('a refused create leaves nothing behind', () => {
  let api: TestApi;
  let alice: Account;
  let bob: Account;
  let png: string;
  let admitted: State;
  before(async () => {
    api = await startApi({
      env: { OUTPAINT_ACCOUNT_CONCURRENCY: '3', OUTPAINT_MAX_QUEUE: '2', OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1' },
    });
    alice = await api.newAccount();
    bob = await api.newAccount();
    png = (await makePng()).toString('base64');
    // Two admitted tasks, with callbacks: the queue (2) is now full, alice holds 1 of her 3 slots.
    for (const [who, external] of [[alice, 'taken'], [bob, 'b-1']] as const) {
      const res = await call(api.url, 'POST', EXPAND, {
        token: await who.token(),
        body: { image: png, up_expansion_ratio: 0.5, callback_url: 'https://hooks.example.com/h', external_task_id: external },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    admitted = await state(api);
    assert.equal(admitted.tasks.length, 2);
    assert.equal(admitted.jobs.length, 2);
    assert.equal(admitted.callbacks.length, 2, 'each admitted task has its submitted callback');
    assert.equal(admitted.files.filter((f) => f.startsWith('data/inputs/')).length, 2);
  });
  after(() => api.close());

  const cases: [string, () => Promise<Record<string, unknown> | string>, number, RegExp][] = [
    ['an invalid field', async () => ({ image: png, up_expansion_ratio: 0.5, n: 10 }), 1201, /^n: /],
    ['the area rule', async () => ({ image: png, up_expansion_ratio: 2, left_expansion_ratio: 2 }), 1201, /^expansion ratios: /],
    ['a data: prefix', async () => ({ image: `data:image/png;base64,${png}`, up_expansion_ratio: 0.5 }), 1201, /^image: .*data:/],
    ['a GIF', async () => ({ image: (await makeGif()).toString('base64'), up_expansion_ratio: 0.5 }), 1201, /^image: GIF/],
    ['a truncated PNG', async () => ({ image: (await makePng()).subarray(0, 300).toString('base64'), up_expansion_ratio: 0.5 }), 1201, /^image: /],
    ['a refused image URL', async () => ({ image: 'http://169.254.169.254/latest/meta-data/', up_expansion_ratio: 0.5 }), 1201, /^image: URL refused/],
    ['an image URL answering 404', async () => ({ image: `${imageBase}/missing.png`, up_expansion_ratio: 0.5 }), 1201, /^image: could not be downloaded/],
    ['a downloaded file that is no PNG', async () => ({ image: `${imageBase}/a.png`, up_expansion_ratio: 0.5 }), 1201, /^image: GIF/],
    ['a refused callback_url', async () => ({ image: png, up_expansion_ratio: 0.5, callback_url: 'http://10.0.0.1/hook' }), 1201, /^callback_url: /],
    ['a used external_task_id', async () => ({ image: png, up_expansion_ratio: 0.5, external_task_id: 'taken' }), 1201, /^external_task_id: taken is already used/],
    ['full account slots (1303)', async () => ({ image: png, up_expansion_ratio: 0.5, n: 3, callback_url: 'https://hooks.example.com/h' }), 1303, /too many tasks/],
    ['a full queue (5001)', async () => ({ image: png, up_expansion_ratio: 0.5, callback_url: 'https://hooks.example.com/h' }), 5001, /queue is full/],
    ['malformed JSON', async () => '{"image": "', 1200, /not valid JSON/],
  ];
  for (const [name, body, code, message] of cases) {
    it(`after ${name}`, async () => {
      const res = await call(api.url, 'POST', EXPAND, { token: await alice.token(), body: await body() });
      assert.deepEqual([res.body.code, res.body.data], [code, undefined], JSON.stringify(res.body));
      assert.match(res.body.message, message);
      assert.deepEqual(await state(api), admitted);
    });
  }

  it('after an unauthenticated create', async () => {
    const res = await call(api.url, 'POST', EXPAND, { body: { image: png, up_expansion_ratio: 0.5 } });
    assert.equal(res.body.code, 1001);
    assert.deepEqual(await state(api), admitted);
  });
});

describe('racing creates with one external_task_id', () => {
  it('admit one; the others leave no file, row or callback (the store refuses them after their input was stored)', async () => {
    const api = await startApi({ env: { OUTPAINT_ACCOUNT_CONCURRENCY: '100' } });
    try {
      const carol = await api.newAccount();
      const token = await carol.token();
      const image = (await makePng()).toString('base64');
      const before = await state(api);
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          call(api.url, 'POST', EXPAND, {
            token,
            body: { image, up_expansion_ratio: 0.5, external_task_id: 'race', callback_url: 'https://hooks.example.com/h' },
          }),
        ),
      );
      const ok = answers.filter((a) => a.status === 200);
      assert.equal(ok.length, 1, answers.map((a) => a.body.message).join(' | '));
      for (const a of answers.filter((x) => x.status !== 200)) {
        assert.deepEqual([a.body.code, a.body.message], [1201, 'external_task_id: race is already used by another task of this account']);
      }
      const after = await state(api);
      const id = ok[0].body.data.task_id;
      assert.deepEqual(after.tasks, [...before.tasks, id].sort());
      assert.deepEqual(after.jobs, [...before.jobs, id].sort());
      assert.deepEqual(after.callbacks, [...before.callbacks, `${id} https://hooks.example.com/h`]);
      assert.deepEqual(after.files, [`data/inputs/${id}`, `meta/inputs/${id}.json`]);
      assert.equal(after.created, before.created + 1);
    } finally {
      await api.close();
    }
  });
});
