/**
 * The image judged by its content, through HTTP: decompression bombs (small files declaring huge sizes),
 * corrupt and truncated files, formats that are not JPEG or PNG, a data: prefix (more than 10 MB is in
 * api-validation.test.ts). Each is a 1201 whose message names `image` and the rule.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { pngChunk as chunk } from './support/hostile-images.js';
import { makePng } from './support/images.js';
import { sceneJpeg, scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';

/**
 * A valid 8-bit greyscale PNG of `width`×`height` black pixels: megapixels of zeros deflate to almost
 * nothing, which is what a decompression bomb is. `rows` limits the rows actually encoded (a file that
 * only declares its size).
 */
function blackPng(width: number, height: number, rows = height): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, no filter method, no interlace
  const raw = Buffer.alloc(rows * (width + 1)); // each row: filter byte 0, then zeros
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real JPEG whose frame header (SOF0) is rewritten to declare `width`×`height`. */
async function jpegDeclaring(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp({ create: { width: 320, height: 320, channels: 3, background: '#345' } }).jpeg().toBuffer());
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  assert.ok(sof > 0, 'baseline JPEG has an SOF0 marker');
  jpeg.writeUInt16BE(height, sof + 5);
  jpeg.writeUInt16BE(width, sof + 7);
  return jpeg;
}

describe('create: the image judged by content', () => {
  let api: TestApi;
  let account: Account;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_ACCOUNT_CONCURRENCY: '1000' } });
    account = await api.newAccount();
  });
  after(() => api.close());

  const create = async (image: string | Buffer) =>
    call(api.url, 'POST', EXPAND, {
      token: await account.token(),
      body: { image: typeof image === 'string' ? image : image.toString('base64'), up_expansion_ratio: 0.5 },
    });

  const refused = async (image: string | Buffer, message: string | RegExp) => {
    const started = performance.now();
    const res = await create(image);
    assert.deepEqual([res.status, res.body?.code], [400, 1201], JSON.stringify(res.body));
    if (typeof message === 'string') assert.equal(res.body.message, message);
    else assert.match(res.body.message, message);
    return performance.now() - started;
  };

  describe('decompression bombs', () => {
    it('refuses a tiny PNG that declares 100000×100000 px, before decoding it', async () => {
      const bomb = blackPng(100_000, 100_000, 1);
      assert.ok(bomb.length < 1000, `${bomb.length} bytes`);
      const ms = await refused(bomb, 'image: 100000×100000 px exceeds the limit of 40,000,000 pixels');
      assert.ok(ms < 5000, `took ${ms} ms`);
    });

    it('refuses a fully valid 8000×6000 PNG of ~50 KB (48 megapixels)', async () => {
      const bomb = blackPng(8000, 6000);
      assert.ok(bomb.length < 100_000, `${bomb.length} bytes`);
      assert.equal((await sharp(bomb).metadata()).width, 8000, 'the bomb is a valid PNG');
      await refused(bomb, 'image: 8000×6000 px exceeds the limit of 40,000,000 pixels');
    });

    it('refuses a JPEG whose header declares 60000×60000 px', async () => {
      await refused(await jpegDeclaring(60_000, 60_000), 'image: 60000×60000 px exceeds the limit of 40,000,000 pixels');
    });

    it('applies OUTPAINT_MAX_PIXELS', async () => {
      const strict = await startApi({ env: { OUTPAINT_MAX_PIXELS: '100000' } });
      try {
        const res = await call(strict.url, 'POST', EXPAND, {
          token: await (await strict.newAccount()).token(),
          body: { image: (await makePng(400, 300)).toString('base64'), up_expansion_ratio: 0.5 },
        });
        assert.deepEqual([res.body.code, res.body.message], [1201, 'image: 400×300 px exceeds the limit of 100,000 pixels']);
      } finally {
        await strict.close();
      }
    });
  });

  describe('corrupt and truncated files', () => {
    it('refuses a truncated PNG and a truncated JPEG', async () => {
      const png = await scenePng(400, 300);
      await refused(png.subarray(0, png.length >> 1), 'image: is a truncated PNG file (it ends before its IEND chunk)');
      const jpeg = await sceneJpeg(400, 300);
      await refused(jpeg.subarray(0, jpeg.length >> 1), 'image: is a truncated JPEG file (its image data has no end marker)');
      await refused(jpeg.subarray(0, jpeg.length - 2), 'image: is a truncated JPEG file (its image data has no end marker)');
    });

    it('refuses a PNG whose chunks are whole but whose data is too short for its size, without decoding it', async () => {
      const png = blackPng(6000, 6000, 3000);
      await refused(png, /^image: is a corrupt or truncated PNG file \(its \d+ bytes of image data cannot hold 6000×6000 pixels\)$/);
    });

    it('refuses a PNG whose data fails its checksum', async () => {
      const png = Buffer.from(await scenePng(400, 300));
      for (let i = 2000; i < 2400; i++) png[i] ^= 0x55;
      await refused(png, 'image: is a corrupt or truncated PNG file');
    });

    it('refuses a JPEG whose image data is scribbled over (libjpeg would decode garbage)', async () => {
      const jpeg = Buffer.from(await sceneJpeg(400, 300));
      for (let i = 1000; i < 1400; i++) jpeg[i] = (i * 37) & 0xff;
      await refused(jpeg, 'image: is a corrupt JPEG file (its image data does not decode cleanly)');
    });

    it('refuses files whose header is broken', async () => {
      const png = await scenePng(400, 300);
      await refused(Buffer.concat([png.subarray(0, 8), Buffer.from('not a chunk at all, just text')]), 'image: is not a readable PNG file (corrupt header)');
      const jpeg = await sceneJpeg(400, 300);
      await refused(jpeg.subarray(0, 200), 'image: is not a readable JPEG file (corrupt header)');
    });
  });

  describe('formats other than JPEG and PNG, whatever they are called', () => {
    it('refuses WebP, GIF, TIFF, AVIF and SVG, naming what was sent', async () => {
      const base = () => sharp({ create: { width: 400, height: 300, channels: 3, background: '#468' } });
      await refused(await base().webp().toBuffer(), 'image: WebP is not supported; send JPEG or PNG');
      await refused(await base().gif().toBuffer(), 'image: GIF is not supported; send JPEG or PNG');
      await refused(await base().tiff().toBuffer(), 'image: TIFF is not supported; send JPEG or PNG');
      await refused(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"/>'), 'image: SVG is not supported; send JPEG or PNG');
      await refused(Buffer.from('  <svg xmlns="http://www.w3.org/2000/svg" width="4000" height="3000"><rect/></svg>'), 'image: SVG is not supported; send JPEG or PNG');
    });

    it('refuses bytes that are no image at all', async () => {
      await refused(Buffer.from('%PDF-1.7 hello'), 'image: PDF is not supported; send JPEG or PNG');
      await refused(Buffer.from('plain text, not a picture'), 'image: is not a JPEG or PNG image');
    });
  });

  describe('the image string', () => {
    it('refuses a data: prefix with a message that says what to do, in any case', async () => {
      const png = (await makePng()).toString('base64');
      const message = 'image: send raw base64 without a "data:" prefix (drop everything up to and including the comma)';
      await refused(`data:image/png;base64,${png}`, message);
      await refused(`  DATA:image/jpeg;base64,${png}`, message);
    });
  });
});
