import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

// dist/test/cli-expand.test.js → dist/src/cli/main.js
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
let dir = '';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'expand', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, OUTPAINT_QUALITY: 'fast', OUTPAINT_WORKERS: '2' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function writeImage(file: string, width: number, height: number, format: 'png' | 'jpeg'): Promise<void> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 7 + y * 3) & 255;
      data[i + 1] = y > height / 2 ? 140 + ((x * y) % 40) : 200;
      data[i + 2] = y > height / 2 ? 60 : 240;
    }
  }
  const img = sharp(data, { raw: { width, height, channels: 3 } });
  await (format === 'png' ? img.png() : img.jpeg()).toFile(file);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpaint-cli-'));
  await writeImage(path.join(dir, 'in.png'), 320, 300, 'png');
  await writeImage(path.join(dir, 'photo.jpg'), 300, 360, 'jpeg');
  await writeImage(path.join(dir, 'small.png'), 200, 300, 'png');
  fs.writeFileSync(path.join(dir, 'fake.png'), 'GIF89a not really a png');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('writes a PNG of the contract size beside the input by default and says where', async () => {
  const r = run(path.join(dir, 'in.png'), '--right', '0.5', '--up', '0.25', '--seed', '3');
  assert.equal(r.status, 0, r.stderr);
  const out = path.join(dir, 'in-expanded.png');
  assert.equal(r.stdout.trim(), out);
  const meta = await sharp(out).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 480);
  assert.equal(meta.height, 375);
  assert.match(meta.xmp?.toString() ?? '', /digitalsourcetype/i, 'says it is machine-generated');
  // No progress bar when stderr is not a terminal.
  assert.equal(r.stderr, '');
  // The original sits unchanged at (0, 75).
  const original = await sharp(path.join(dir, 'in.png')).raw().toBuffer();
  const expanded = await sharp(out).extract({ left: 0, top: 75, width: 320, height: 300 }).raw().toBuffer();
  assert.ok(original.equals(expanded));
});

test('-n writes numbered files, JPEG by extension, deterministic per seed', async () => {
  const target = path.join(dir, 'many.jpg');
  const r = run(path.join(dir, 'photo.jpg'), '--left', '0.3', '-n', '2', '--seed', '5', '--output', target);
  assert.equal(r.status, 0, r.stderr);
  const files = [path.join(dir, 'many-0.jpg'), path.join(dir, 'many-1.jpg')];
  assert.deepEqual(r.stdout.trim().split('\n'), files);
  for (const f of files) assert.equal((await sharp(f).metadata()).format, 'jpeg');
  // Result 1 of seed 5 is exactly seed 6 (lossless outputs to compare pixels).
  const pair = run(path.join(dir, 'photo.jpg'), '--left', '0.3', '-n', '2', '--seed', '5', '--output', path.join(dir, 'pair.png'));
  assert.equal(pair.status, 0, pair.stderr);
  const again = run(path.join(dir, 'photo.jpg'), '--left', '0.3', '--seed', '6', '--output', path.join(dir, 'single.png'));
  assert.equal(again.status, 0, again.stderr);
  const a = await sharp(path.join(dir, 'pair-1.png')).raw().toBuffer();
  const b = await sharp(path.join(dir, 'single.png')).raw().toBuffer();
  assert.ok(a.equals(b), 'result 1 of seed 5 equals seed 6');
  const c = await sharp(path.join(dir, 'pair-0.png')).raw().toBuffer();
  assert.ok(!a.equals(c), 'different seeds give different pictures');
});

test('bad input exits 2 with a one-line message naming the flag or the file and the rule', () => {
  // The rules are the API's (src/contract/rules.ts); the CLI names what the user typed, not the API's fields.
  const inPng = path.join(dir, 'in.png');
  const small = path.join(dir, 'small.png');
  const cases: [string[], string | RegExp][] = [
    [[inPng, '--left', '3'], 'outpaint expand: --left: 3 is outside [0, 2]'],
    [
      [inPng, '--left', '2', '--right', '1'],
      'outpaint expand: expansion ratios: (1 + --left + --right) × (1 + --up + --down) = (1 + 2 + 1) × (1 + 0 + 0) = 4 exceeds the maximum of 3',
    ],
    [[inPng, '--left', '1', '--up', '0.6'], /exceeds the maximum of 3$/],
    [
      [inPng],
      'outpaint expand: expansion ratios: at least one of up, down, left and right must be above 0 (--up, --down, --left, --right; a missing one counts as 0)',
    ],
    [[inPng, '--up', 'abc'], 'outpaint expand: --up: must be a number'],
    [[inPng, '--down', '-0.1'], 'outpaint expand: --down: -0.1 is outside [0, 2]'],
    [[inPng, '--right', '2.5'], 'outpaint expand: --right: 2.5 is outside [0, 2]'],
    [[inPng, '--up', '0.5', '-n', '10'], 'outpaint expand: -n: 10 is outside [1, 9]'],
    [[inPng, '--up', '0.5', '-n', '1.5'], 'outpaint expand: -n: must be an integer'],
    [[inPng, '--up', '0.5', '--quality', 'ultra'], /--quality/],
    [[small, '--up', '0.5'], `outpaint expand: ${small}: width 200 px is below the minimum of 300 px`],
    [[path.join(dir, 'fake.png'), '--up', '0.5'], new RegExp(`^outpaint expand: ${path.join(dir, 'fake.png')}: GIF is not supported`)],
    [[path.join(dir, 'missing.png'), '--up', '0.5'], /no such file/],
    [[inPng, '--up', '0.5', '--bogus'], /unknown option/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')} → ${r.status}: ${r.stderr}`);
    if (typeof message === 'string') assert.equal(r.stderr, `${message}\n`, args.join(' '));
    else assert.match(r.stderr.trim(), message, args.join(' '));
    assert.doesNotMatch(r.stderr, /_expansion_ratio|(?<![-\w])(image|n):/, 'no API field names on the command line');
    // Our own messages are one line; commander's parse errors may be followed by the usage (main.ts's choice).
    if (!args.includes('--bogus')) assert.equal(r.stderr.trim().split('\n').length, 1, `one line expected: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

test('an unwritable output exits 1', () => {
  const r = run(path.join(dir, 'in.png'), '--up', '0.1', '--output', path.join(dir, 'no-such-dir', 'x.png'));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot write/);
});

test('--help mentions the numbered outputs and the exit codes', () => {
  const r = run('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /-0, -1/);
  assert.match(r.stdout, /Exit status/);
});

/** The command on a terminal: under `script`, which gives it a pseudo-terminal and records what it drew. */
function onTerminal(...args: string[]): { status: number | null; screen: string } {
  const command = [process.execPath, MAIN, 'expand', ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, OUTPAINT_QUALITY: 'fast', OUTPAINT_WORKERS: '2' },
  });
  assert.equal(r.error, undefined, 'script (util-linux) runs');
  return { status: r.status, screen: r.stdout };
}

test('on a terminal, a progress bar redrawn in place up to 100 %, then the file names on their own lines', () => {
  const out = path.join(dir, 'tty.png');
  const r = onTerminal(path.join(dir, 'in.png'), '--right', '0.5', '-n', '2', '-o', out);
  assert.equal(r.status, 0, r.screen);
  const frames = r.screen.split('\r').filter((f) => f.startsWith('expanding ['));
  assert.ok(frames.length >= 3, `${frames.length} frames: ${JSON.stringify(r.screen)}`);
  const percents = frames.map((f) => Number(/(\d+)%/.exec(f)![1]));
  assert.equal(percents[0], 0);
  assert.equal(percents[percents.length - 1], 100);
  assert.deepEqual(percents, [...percents].sort((a, b) => a - b), 'never goes back');
  // The terminal shows a newline as \r\n: the full bar ends its line, then the names follow.
  const names = [path.join(dir, 'tty-0.png'), path.join(dir, 'tty-1.png')];
  assert.ok(r.screen.endsWith(`${frames[frames.length - 1]}\r\n${names.join('\r\n')}\r\n`), JSON.stringify(r.screen.slice(-200)));
  assert.match(frames[frames.length - 1], /^expanding \[#{30}\] 100%  \d+\.\d s$/);
});

test('--quiet draws no bar on a terminal; an error after the bar started begins on a line of its own', () => {
  const quiet = onTerminal(path.join(dir, 'in.png'), '--right', '0.5', '--quiet', '-o', path.join(dir, 'quiet.png'));
  assert.equal(quiet.status, 0, quiet.screen);
  assert.equal(quiet.screen.replaceAll('\r', ''), `${path.join(dir, 'quiet.png')}\n`);
  const unwritable = onTerminal(path.join(dir, 'in.png'), '--right', '0.5', '-o', path.join(dir, 'no-such-dir', 'x.png'));
  assert.equal(unwritable.status, 1);
  assert.match(unwritable.screen, /100%  \d+\.\d s\r?\n(?:\r)?outpaint expand: cannot write /);
});
