/**
 * Relative paths mean "from where the user typed the command", however the CLI was started: `node
 * path/to/cli`, `npm run outpaint -- …` (npm runs it in the package root and sets INIT_CWD), `npx
 * outpaint` from the checkout, and an `outpaint` on PATH as `npm link` or a global install makes it.
 * Every case runs from a folder outside the checkout, through the real process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { CLI, runCli } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { tempDir } from './support/tmp.js';

/** The package root: dist/src/cli/main.js → three folders up. */
const ROOT = path.resolve(path.dirname(CLI), '../../..');

/** An environment without the npm variables of the test run itself (`npm test` sets them). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|INIT_CWD$|OUTPAINT_)/i.test(k)) env[k] = v;
  }
  return { ...env, OUTPAINT_QUALITY: 'fast', OUTPAINT_WORKERS: '1', ...extra };
}

let home: { path: string; remove(): Promise<void> };
/** The user's folder: holds photo.png, small.png (too small for the rules) and a subfolder `out/`. */
let here: string;

before(async () => {
  home = await tempDir('outpaint-paths-');
  here = path.join(home.path, 'work');
  await fs.mkdir(path.join(here, 'out'), { recursive: true });
  await fs.writeFile(path.join(here, 'photo.png'), await scenePng(320, 320));
  await fs.writeFile(path.join(here, 'small.png'), await scenePng(200, 320));
});
after(() => home.remove());

async function expectWide(file: string): Promise<void> {
  const meta = await sharp(file).metadata();
  assert.deepEqual([meta.width, meta.height], [480, 320], file);
}

const EXPAND = ['expand', 'photo.png', '--right', '0.5'];

describe('the CLI takes relative paths from the folder it is run in', () => {
  it('node path/to/cli', async () => {
    const r = await runCli([...EXPAND, '--output', 'out/node.png'], { cwd: here, env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'out/node.png');
    await expectWide(path.join(here, 'out/node.png'));
  });

  it('npm run outpaint -- … (npm runs it in the package root; INIT_CWD says where the user was)', async () => {
    const r = await runCli(['--prefix', ROOT, 'run', '--silent', 'outpaint', '--', ...EXPAND, '--output', 'out/npm-run.png'], {
      cwd: here,
      env: cleanEnv(),
      command: 'npm',
    });
    assert.equal(r.code, 0, r.stderr);
    await expectWide(path.join(here, 'out/npm-run.png'));
    await assert.rejects(fs.access(path.join(ROOT, 'out')), 'nothing lands in the checkout');
    // The input is found from there too: a name that exists only in the user's folder.
    const missing = await runCli(['--prefix', ROOT, 'run', '--silent', 'outpaint', '--', 'expand', 'nope.png', '--up', '1'], {
      cwd: here,
      env: cleanEnv(),
      command: 'npm',
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope\.png: no such file/);
  });

  it('npm run outpaint -- keys …: the default data dir ./data is the user folder\'s', async () => {
    const r = await runCli(['--prefix', ROOT, 'run', '--silent', 'outpaint', '--', 'keys', 'create', '--name', 'npm', '--json'], {
      cwd: here,
      env: cleanEnv(),
      command: 'npm',
    });
    assert.equal(r.code, 0, r.stderr);
    const db = path.join(here, 'data', 'outpaint.db');
    assert.ok(r.stderr.includes(`SQLite database ${db}`), r.stderr);
    await fs.access(db);
  });

  // The other ways of starting it are checked on an input that exists only in the user's folder and is
  // refused by the size rule once read: cheaper than an expansion, and as telling about the folder.
  const SMALL = ['expand', 'small.png', '--up', '0.5'];
  const readHere = (r: { code: number; stderr: string }) => {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, 'outpaint expand: small.png: width 200 px is below the minimum of 300 px\n');
  };

  it('npx outpaint from the checkout (it runs the bin file itself: the build makes it executable)', async () => {
    // The first npx for a checkout path installs it into npm's _npx cache, which would run `prepare`
    // (a rebuild that empties dist/ under the other tests running meanwhile): scripts off.
    readHere(await runCli(['--ignore-scripts', '--prefix', ROOT, '--offline', 'outpaint', ...SMALL], { cwd: here, env: cleanEnv(), command: 'npx' }));
  });

  it('outpaint on PATH, a symbolic link to the CLI as npm link and global installs make it', async () => {
    const bin = path.join(home.path, 'bin');
    await fs.mkdir(bin, { recursive: true });
    await fs.symlink(CLI, path.join(bin, 'outpaint'));
    const env = cleanEnv({ PATH: `${bin}${path.delimiter}${process.env.PATH}` });
    readHere(await runCli(SMALL, { cwd: here, env, command: 'outpaint' }));
  });

  it('an INIT_CWD inherited from some other npm script does not move it', async () => {
    // As when a test runner started by `npm test`, or another project's script, runs the CLI.
    const env = cleanEnv({ INIT_CWD: ROOT, npm_lifecycle_event: 'test', npm_lifecycle_script: 'node --test' });
    readHere(await runCli(SMALL, { cwd: here, env }));
  });
});
