/** `outpaint token` as a process: the tokens it prints are accepted by a running server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { api, CLI, createKeys, runCli, startServer, stopServer, tempDataDir, type Keys, type ServerProcess } from './support/outpaint-process.js';

let server: ServerProcess;
let keys: Keys;
let cleanup: () => Promise<void>;

before(async () => {
  const data = await tempDataDir();
  cleanup = data.cleanup;
  keys = await createKeys(data.dir);
  server = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' });
});
after(async () => {
  await stopServer(server);
  await cleanup();
});

/** The environment of the tests, without secrets of the caller's own. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { OUTPAINT_ACCESS_KEY: _a, OUTPAINT_SECRET_KEY: _s, ...rest } = process.env;
  return { ...rest, ...extra };
}

function claims(token: string): { iss: string; exp: number; nbf: number } {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

async function listWith(token: string): Promise<number> {
  return (await api(server.url, 'GET', '/v1/images/editing/expand', token)).status;
}

describe('outpaint token', () => {
  it('--secret-key-stdin: prints only the token, which the server accepts; 30 minutes by default', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await runCli(['token', '--access-key', keys.access_key, '--secret-key-stdin'], { env: env(), input: `${keys.secret_key}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(r.stderr, '', 'nothing else when stderr is not a terminal');
    const token = r.stdout.trim();
    const c = claims(token);
    assert.equal(c.iss, keys.access_key);
    assert.ok(c.exp >= now + 1800 && c.exp <= now + 1802, `exp ${c.exp - now} s from now`);
    assert.ok(c.nbf < now + 1, 'valid at once');
    assert.equal(await listWith(token), 200);
  });

  it('OUTPAINT_ACCESS_KEY and OUTPAINT_SECRET_KEY from the environment; --ttl', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await runCli(['token', '--ttl', '2h'], {
      env: env({ OUTPAINT_ACCESS_KEY: keys.access_key, OUTPAINT_SECRET_KEY: keys.secret_key }),
    });
    assert.equal(r.code, 0, r.stderr);
    const c = claims(r.stdout.trim());
    assert.ok(c.exp >= now + 7200 && c.exp <= now + 7202, `exp ${c.exp - now} s from now`);
    assert.equal(await listWith(r.stdout.trim()), 200);
  });

  it('--secret-key on the command line works too; a wrong secret makes a token the server refuses', async () => {
    const good = await runCli(['token', '--access-key', keys.access_key, '--secret-key', keys.secret_key, '--ttl', '90'], { env: env() });
    assert.equal(good.code, 0, good.stderr);
    const c = claims(good.stdout.trim());
    assert.equal(c.exp - c.nbf, 95);
    assert.equal(await listWith(good.stdout.trim()), 200);
    const bad = await runCli(['token', '--access-key', keys.access_key, '--secret-key', 'x'.repeat(32)], { env: env() });
    assert.equal(bad.code, 0, bad.stderr);
    const refused = await api(server.url, 'GET', '/v1/images/editing/expand', bad.stdout.trim());
    assert.deepEqual([refused.status, refused.body.code], [401, 1002]);
  });

  it('refuses bad input with exit 2 and a message naming the flag', async () => {
    const cases: [string[], string | undefined, RegExp][] = [
      [['token', '--access-key', keys.access_key, '--secret-key', 's', '--ttl', '0'], undefined, /--ttl: 0 is not a duration/],
      [['token', '--access-key', keys.access_key, '--secret-key', 's', '--ttl', '1 week'], undefined, /--ttl: 1 week/],
      [['token', '--access-key', keys.access_key, '--secret-key', 's', '--ttl', '400d'], undefined, /from 1s to 366d/],
      [['token', '--secret-key', 's'], undefined, /--access-key: missing \(or set OUTPAINT_ACCESS_KEY\)/],
      [['token', '--access-key', keys.access_key], '', /no secret key: pass --secret-key-stdin/],
      [['token', '--access-key', keys.access_key, '--secret-key-stdin'], '\n', /the secret key from --secret-key-stdin is empty/],
      [['token', '--access-key', keys.access_key, '--secret-key-stdin', '--secret-key', 's'], '', /give one of them/],
    ];
    for (const [args, input, message] of cases) {
      const r = await runCli(args, { env: env(), input });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  it('asks for the secret key on a terminal without echoing it', async () => {
    // A pseudo-terminal from util-linux's script(1); the secret is typed once the prompt is up.
    const child = spawn('script', ['-qfec', `exec ${process.execPath} ${CLI} token --access-key ${keys.access_key}`, '/dev/null'], {
      env: env(),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let screen = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no prompt: ${JSON.stringify(screen)}`)), 15_000);
      child.stdout.on('data', (c: Buffer) => {
        screen += c.toString();
        if (screen.includes('secret key: ')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.stdin.write(`${keys.secret_key}\r`);
    assert.equal(await exited, 0, screen);
    assert.ok(!screen.includes(keys.secret_key), `the secret is not shown: ${JSON.stringify(screen)}`);
    assert.match(screen, /valid for 30 minutes, until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    const token = /([\w-]+\.[\w-]+\.[\w-]+)/.exec(screen.slice(screen.indexOf('secret key: ')))![1];
    assert.equal(await listWith(token), 200);
  });
});
