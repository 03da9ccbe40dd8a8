import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { makeGif, makeJpeg, makePng } from './support/images.js';

const EXPAND = '/v1/images/editing/expand';

describe('create: validation of every rule', () => {
  let api: TestApi;
  let account: Account;
  let png: string;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_ACCOUNT_CONCURRENCY: '1000' } });
    account = await api.newAccount();
    png = (await makePng()).toString('base64');
  });
  after(() => api.close());

  const create = async (body: unknown, headers?: Record<string, string>) =>
    call(api.url, 'POST', EXPAND, { token: await account.token(), body, headers });

  const refused = async (body: unknown, code: number, message: string | RegExp) => {
    const res = await create(body);
    assert.equal(res.body?.code, code, `${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.status, code === 1200 || code === 1201 ? 400 : res.status);
    if (typeof message === 'string') assert.equal(res.body.message, message);
    else assert.match(res.body.message, message);
    assert.equal(res.body.data, undefined);
    assert.equal(typeof res.body.request_id, 'string');
  };

  it('accepts a valid base64 PNG and a JPEG', async () => {
    for (const image of [png, (await makeJpeg(300, 600)).toString('base64')]) {
      const res = await create({ image, left_expansion_ratio: 0.5, right_expansion_ratio: 0.5 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.code, 0);
      assert.equal(res.body.data.task_status, 'submitted');
      assert.match(res.body.data.task_id, /^[A-Za-z0-9_-]{22}$/);
      assert.deepEqual(Object.keys(res.body.data).sort(), ['created_at', 'task_id', 'task_info', 'task_status', 'updated_at']);
    }
  });

  describe('image', () => {
    it('is required', () => refused({ up_expansion_ratio: 1 }, 1201, 'image: is required'));
    it('must be a string', () => refused({ image: 5, up_expansion_ratio: 1 }, 1201, 'image: must be a string'));
    it('must not be empty', () => refused({ image: '', up_expansion_ratio: 1 }, 1201, 'image: must not be empty'));
    it('refuses a data: prefix, saying so', () =>
      refused({ image: `data:image/png;base64,${png}`, up_expansion_ratio: 1 }, 1201, /^image: .*data:.*prefix/));
    it('refuses invalid base64', () => refused({ image: 'not base64 at all!!', up_expansion_ratio: 1 }, 1201, /^image: .*base64/));
    it('refuses schemes other than http(s)', () =>
      refused({ image: 'ftp://example.com/a.png', up_expansion_ratio: 1 }, 1201, 'image: only http and https URLs are supported'));
    it('refuses GIF by content', async () =>
      refused({ image: (await makeGif()).toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: GIF is not supported/));
    it('refuses bytes that are no image', () =>
      refused({ image: Buffer.from('hello world, plain text').toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: /));
    it('refuses SVG', () =>
      refused({ image: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"/>').toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: SVG/));
    it('refuses a truncated PNG', async () => {
      const bytes = await makePng();
      await refused({ image: bytes.subarray(0, bytes.length - 40).toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: /);
    });
    it('refuses a side under 300 px', async () =>
      refused({ image: (await makePng(400, 299)).toString('base64'), up_expansion_ratio: 1 }, 1201, 'image: height 299 px is below the minimum of 300 px'));
    it('refuses an aspect ratio beyond 2.5:1', async () =>
      refused({ image: (await makePng(800, 300)).toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: aspect ratio 800:300/));
    it('accepts exactly 2.5:1', async () => {
      const res = await create({ image: (await makePng(750, 300)).toString('base64'), up_expansion_ratio: 1 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
    it('refuses more than 10 MB', async () => {
      const [width, height] = [2000, 1800];
      const big = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer();
      assert.ok(big.length > 10 * 1024 * 1024 && big.length < 11 * 1024 * 1024);
      await refused({ image: big.toString('base64'), up_expansion_ratio: 1 }, 1201, /^image: 10\.\d\d? MB exceeds the maximum of 10 MB$/);
    });
  });

  describe('expansion ratios', () => {
    for (const field of ['up_expansion_ratio', 'down_expansion_ratio', 'left_expansion_ratio', 'right_expansion_ratio']) {
      it(`${field} in [0, 2]`, async () => {
        await refused({ image: png, [field]: 2.5 }, 1201, `${field}: 2.5 is outside [0, 2]`);
        await refused({ image: png, [field]: -0.1 }, 1201, `${field}: -0.1 is outside [0, 2]`);
        await refused({ image: png, [field]: '1' }, 1201, `${field}: must be a number`);
      });
    }
    it('area (1 + left + right) × (1 + up + down) ≤ 3', () =>
      refused(
        { image: png, up_expansion_ratio: 1, left_expansion_ratio: 1 },
        1201,
        'expansion ratios: (1 + left_expansion_ratio + right_expansion_ratio) × (1 + up_expansion_ratio + down_expansion_ratio) = (1 + 1 + 0) × (1 + 1 + 0) = 4 exceeds the maximum of 3',
      ));
    it('exactly 3 passes', async () => {
      const res = await create({ image: png, up_expansion_ratio: 0.5, down_expansion_ratio: 0.5, left_expansion_ratio: 0.25, right_expansion_ratio: 0.25 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
    it('at least one above 0 (missing counts as 0)', async () => {
      await refused(
        { image: png },
        1201,
        'expansion ratios: at least one of up, down, left and right must be above 0 (up_expansion_ratio, down_expansion_ratio, left_expansion_ratio, right_expansion_ratio; a missing one counts as 0)',
      );
      await refused({ image: png, up_expansion_ratio: 0, down_expansion_ratio: 0 }, 1201, /at least one/);
    });
  });

  describe('other fields', () => {
    it('prompt at most 2500 characters', async () => {
      await refused({ image: png, up_expansion_ratio: 1, prompt: 'a'.repeat(2501) }, 1201, 'prompt: 2501 characters exceed the maximum of 2500');
      await refused({ image: png, up_expansion_ratio: 1, prompt: 7 }, 1201, 'prompt: must be a string');
      // Characters, not UTF-16 units: 2500 emoji are 5000 units.
      const res = await create({ image: png, up_expansion_ratio: 1, prompt: '🌄'.repeat(2500) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
    it('n an integer in [1, 9]', async () => {
      await refused({ image: png, up_expansion_ratio: 1, n: 0 }, 1201, 'n: 0 is outside [1, 9]');
      await refused({ image: png, up_expansion_ratio: 1, n: 10 }, 1201, 'n: 10 is outside [1, 9]');
      await refused({ image: png, up_expansion_ratio: 1, n: 1.5 }, 1201, 'n: must be an integer');
      await refused({ image: png, up_expansion_ratio: 1, n: '2' }, 1201, 'n: must be an integer');
    });
    it("seed (Outpaint's own) an integer in [0, 2147483647]", async () => {
      await refused({ image: png, up_expansion_ratio: 1, seed: -1 }, 1201, 'seed: -1 is outside [0, 2147483647]');
      await refused({ image: png, up_expansion_ratio: 1, seed: 2 ** 31 }, 1201, 'seed: 2147483648 is outside [0, 2147483647]');
      await refused({ image: png, up_expansion_ratio: 1, seed: 1.5 }, 1201, 'seed: must be an integer');
      await refused({ image: png, up_expansion_ratio: 1, seed: '7' }, 1201, 'seed: must be an integer');
      const res = await create({ image: png, up_expansion_ratio: 1, seed: 2147483647 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
    it('watermark_info is { enabled: boolean }', async () => {
      await refused({ image: png, up_expansion_ratio: 1, watermark_info: true }, 1201, 'watermark_info: must be an object');
      await refused({ image: png, up_expansion_ratio: 1, watermark_info: { enabled: 'yes' } }, 1201, 'watermark_info.enabled: must be a boolean');
      await refused({ image: png, up_expansion_ratio: 1, watermark_info: {} }, 1201, 'watermark_info.enabled: is required');
    });
    it('callback_url must be an http(s) URL that may be reached', async () => {
      await refused({ image: png, up_expansion_ratio: 1, callback_url: 'not a url' }, 1201, 'callback_url: is not a valid URL');
      await refused({ image: png, up_expansion_ratio: 1, callback_url: 'ftp://example.com/x' }, 1201, 'callback_url: must be an http or https URL');
      await refused({ image: png, up_expansion_ratio: 1, callback_url: 'http://169.254.169.254/x' }, 1201, /^callback_url: .*link-local/);
      await refused({ image: png, up_expansion_ratio: 1, callback_url: 'https://u:p@example.com/h' }, 1201, 'callback_url: must not contain credentials (user:password@)');
    });
    it('image URLs must not carry credentials', async () => {
      await refused({ image: 'https://u:p@example.com/a.png', up_expansion_ratio: 1 }, 1201, 'image: URL must not contain credentials (user:password@)');
    });
    it('external_task_id must be a string', () =>
      refused({ image: png, up_expansion_ratio: 1, external_task_id: 12 }, 1201, 'external_task_id: must be a string'));
    it('ignores unknown fields and treats null as absent', async () => {
      const res = await create({ image: png, up_expansion_ratio: 1, model_name: 'kling-v1', prompt: null, n: null, callback_url: '' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  });

  describe('the request itself', () => {
    it('1200 for malformed JSON', () => refused('{"image": ', 1200, 'the request body is not valid JSON'));
    it('1200 for prototype poisoning', () =>
      refused(`{"image": "x", "__proto__": {"admin": true}}`, 1200, /^the request body is not valid JSON/));
    it('1200 for a body that is not an object', () => refused([1, 2], 1200, 'request body must be a JSON object'));
    it('1200 for an empty body', async () => {
      const res = await call(api.url, 'POST', EXPAND, { token: await account.token(), headers: { 'content-type': 'application/json' } });
      assert.equal(res.body.code, 1200);
    });
    it('1200 for a body that is not JSON', async () => {
      const res = await create('image=x', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(res.body.code, 1200);
      assert.match(res.body.message, /application\/json/);
    });
    it('1201 for a body over the limit, naming the limit', async () => {
      const res = await create(JSON.stringify({ image: 'A'.repeat(17 * 1024 * 1024) }));
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 1201);
      assert.equal(res.body.message, 'body: the request body exceeds 16 MB');
    });
  });
});
