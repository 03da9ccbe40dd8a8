/**
 * The whole service as a user meets it: `outpaint serve` as a process, keys from the CLI, a task created
 * over HTTP with a callback receiver on loopback, results downloaded through their signed URLs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { expansionGeometry } from '../src/engine/geometry.js';
import { api, CLI, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { startReceiver, type Receiver } from './support/receiver.js';

let data: Awaited<ReturnType<typeof tempDataDir>>;
let server: ServerProcess;
let keys: Keys;
let receiver: Receiver;

before(async () => {
  data = await tempDataDir();
  keys = await createKeys(data.dir, 'flow');
  // The very first delivery is answered 500: it must come again with the same webhook-id.
  receiver = await startReceiver(keys.webhook_secret, ({ seen }) => (receivedCount++ === 0 && seen === 0 ? 500 : 200));
  server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_WORKERS: '2',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
  });
});
let receivedCount = 0;

after(async () => {
  if (server) await stopServer(server);
  await receiver?.close();
  await data?.cleanup();
});

test('a task goes submitted → processing → succeed, with signed callbacks and downloadable results', async () => {
  const input = await scenePng(320, 300, 7);
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: input.toString('base64'),
    left_expansion_ratio: 0.25,
    right_expansion_ratio: 0.25,
    up_expansion_ratio: 0.1,
    n: 2,
    watermark_info: { enabled: true },
    callback_url: receiver.url,
    external_task_id: 'flow-1',
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.equal(created.body.code, 0);
  assert.equal(created.body.data.task_status, 'submitted');
  const taskId: string = created.body.data.task_id;

  const done = await waitFor('the task to finish', async () => {
    const q = await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, bearer);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  });
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  assert.equal(done.final_unit_deduction, '2');
  assert.equal(done.task_result.images.length, 2);

  // Results: the contract's geometry, the original bit-exact inside, a watermark only on the copy.
  const geo = expansionGeometry(320, 300, { up: 0.1, down: 0, left: 0.25, right: 0.25 });
  const original = await sharp(input).raw().toBuffer();
  const pixels: Buffer[] = [];
  for (const img of done.task_result.images) {
    const res = await fetch(img.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await res.arrayBuffer());
    const { data: raw, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [geo.width, geo.height]);
    for (let y = 0; y < 300; y++) {
      const row = raw.subarray(((geo.y + y) * geo.width + geo.x) * 3, ((geo.y + y) * geo.width + geo.x + 320) * 3);
      assert.ok(row.equals(original.subarray(y * 320 * 3, (y + 1) * 320 * 3)), `original row ${y} changed`);
    }
    const meta = await sharp(png).metadata();
    assert.match(meta.xmp?.toString() ?? '', /digitalsourcetype/i, 'machine-generated metadata');
    const marked = await fetch(img.watermark_url);
    assert.equal(marked.status, 200);
    const markedPng = Buffer.from(await marked.arrayBuffer());
    assert.match((await sharp(markedPng).metadata()).xmp?.toString() ?? '', /digitalsourcetype/i, 'the copy is labelled too');
    const markedRaw = await sharp(markedPng).raw().toBuffer();
    assert.equal(markedRaw.length, raw.length);
    assert.ok(!markedRaw.equals(raw), 'the watermarked copy differs from the clean image');
    // A small mark in the bottom-right corner: every changed pixel is there, and they are few.
    let changed = 0;
    for (let p = 0; p < geo.width * geo.height; p++) {
      if (markedRaw[p * 3] === raw[p * 3] && markedRaw[p * 3 + 1] === raw[p * 3 + 1] && markedRaw[p * 3 + 2] === raw[p * 3 + 2]) continue;
      changed++;
      const [x, y] = [p % geo.width, Math.floor(p / geo.width)];
      assert.ok(x >= geo.width / 2 && y >= geo.height * 0.75, `pixel ${x},${y} changed outside the corner`);
    }
    assert.ok(changed > 0 && changed < geo.width * geo.height * 0.05, `${changed} pixels changed`);
    pixels.push(raw);
  }
  assert.ok(!pixels[0].equals(pixels[1]), 'the n images differ from each other');

  // A tampered link is refused.
  const url: string = done.task_result.images[0].url;
  // Change the signature's first character (to another one, whatever it was).
  const tampered = url.replace(/signature=(.)/, (_m, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`);
  assert.notEqual(tampered, url);
  assert.notEqual((await fetch(tampered)).status, 200);

  // Callbacks: every status change, signed, with one retry of the delivery answered 500.
  const events = await waitFor('every callback, the retried one included', async () => {
    const ok = new Set(receiver.received.filter((r) => r.answered === 200).map((r) => r.body.task_status));
    return ok.size === 3 ? receiver.received : null;
  });
  const delivered = events.filter((e) => e.answered === 200);
  assert.deepEqual(
    delivered.map((e) => e.body.task_status).sort(),
    ['processing', 'submitted', 'succeed'],
  );
  const first = events[0];
  assert.equal(first.answered, 500);
  assert.ok(
    delivered.some((e) => e.webhookId === first.webhookId),
    'the delivery answered 500 came again with the same webhook-id',
  );
  const succeed = delivered.find((e) => e.body.task_status === 'succeed')!;
  assert.equal(succeed.body.task_id, taskId);
  assert.equal(succeed.body.task_info.external_task_id, 'flow-1');
  assert.equal(succeed.body.task_result.images.length, 2);

  // The external id finds the same task, and the list shows it.
  const byExternal = await api(server.url, 'GET', '/v1/images/editing/expand/flow-1', bearer);
  assert.equal(byExternal.body.data.task_id, taskId);
  const list = await api(server.url, 'GET', '/v1/images/editing/expand?pageNum=1&pageSize=10', bearer);
  assert.equal(list.body.data[0].task_id, taskId);
});

test('the health check answers while the engine is busy', async () => {
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: (await scenePng(600, 400, 3)).toString('base64'),
    left_expansion_ratio: 1,
    n: 2,
  });
  assert.equal(created.status, 200);
  const slowest = { ms: 0 };
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/healthz`);
    slowest.ms = Math.max(slowest.ms, performance.now() - t0);
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(slowest.ms < 500, `healthz took ${slowest.ms} ms while the engine ran`);
});

test('polling shows task_progress rising while the engine works, and 100 once succeeded', async () => {
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: (await scenePng(800, 600, 5)).toString('base64'),
    left_expansion_ratio: 1,
    n: 4,
  });
  assert.equal(created.status, 200);
  const taskId: string = created.body.data.task_id;
  assert.equal((await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, bearer)).body.data.task_progress, 0);
  const seen: number[] = [];
  const done = await waitFor('the task to finish', async () => {
    const q = await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, bearer);
    if (q.body.data.task_status === 'processing') seen.push(q.body.data.task_progress);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  });
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  assert.equal(done.task_progress, 100);
  assert.ok(seen.some((p) => p > 0 && p < 100), `progress seen while processing: ${seen.join(', ')}`);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'progress never goes back');
});

test('a seed makes the same pictures as `outpaint expand --seed` (result i uses seed + i)', async () => {
  const bearer = await token(keys);
  const input = await scenePng(360, 320, 9);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: input.toString('base64'),
    right_expansion_ratio: 0.4,
    n: 2,
    seed: 41,
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const done = await waitFor('the seeded task', async () => {
    const q = await api(server.url, 'GET', `/v1/images/editing/expand/${created.body.data.task_id}`, bearer);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  });
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  const second = Buffer.from(await (await fetch(done.task_result.images[1].url)).arrayBuffer());

  const dir = await tempDataDir();
  try {
    const file = path.join(dir.dir, 'in.png');
    await writeFile(file, input);
    const cli = spawnSync(process.execPath, [CLI, 'expand', file, '--right', '0.4', '--seed', '42', '-o', path.join(dir.dir, 'out.png')], {
      encoding: 'utf8',
      env: { ...process.env, OUTPAINT_QUALITY: 'fast' },
    });
    assert.equal(cli.status, 0, cli.stderr);
    const fromCli = await sharp(path.join(dir.dir, 'out.png')).raw().toBuffer();
    assert.ok((await sharp(second).raw().toBuffer()).equals(fromCli), 'result 1 of seed 41 is the CLI’s seed 42, pixel for pixel');
  } finally {
    await dir.cleanup();
  }
});
