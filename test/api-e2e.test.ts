/** The whole service through its front door: create, wait for the engine, fetch the result files. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { pino } from 'pino';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { startOutpaint } from '../src/server.js';
import { call } from './support/http.js';
import { makePng } from './support/images.js';
import { signToken } from './support/jwt.js';

const EXPAND = '/v1/images/editing/expand';

it('creates a task, runs it to succeed, and serves its images through signed links', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'outpaint-e2e-'));
  const server = await startOutpaint(
    loadConfig({ OUTPAINT_DATA_DIR: dataDir, OUTPAINT_PORT: '0', OUTPAINT_QUALITY: 'fast', OUTPAINT_WORKERS: '2' }),
    { logger: pino({ level: 'silent' }) },
  );
  try {
    const key = server.firstKey;
    assert.ok(key, 'a first key is made on first start');
    const token = await signToken(key.accessKey, key.secretKey);
    const image = (await makePng(320, 320)).toString('base64');
    const created = await call(server.url, 'POST', EXPAND, {
      token,
      body: { image, left_expansion_ratio: 0.25, right_expansion_ratio: 0.25, n: 1, watermark_info: { enabled: true }, external_task_id: 'e2e' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));

    let task: any;
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      task = (await call(server.url, 'GET', `${EXPAND}/e2e`, { token })).body.data;
    } while (!['succeed', 'failed'].includes(task.task_status) && Date.now() < deadline);
    assert.equal(task.task_status, 'succeed', task.task_status_msg);
    assert.equal(task.final_unit_deduction, '1');
    const [img] = task.task_result.images;
    for (const link of [img.url, img.watermark_url]) {
      const file = await call(link, 'GET', '');
      assert.equal(file.status, 200);
      const meta = await sharp(file.raw).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 480, 320]);
    }
  } finally {
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
