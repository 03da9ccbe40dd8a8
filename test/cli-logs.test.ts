/**
 * What `outpaint serve` writes on stdout: pino's JSON lines when stdout is a pipe or a file (as today),
 * pretty lines for people when it is a terminal (here a pseudo-terminal from util-linux's script(1)).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CLI, freePort, startServer, stopServer, tempDataDir, waitFor } from './support/outpaint-process.js';

/** `outpaint serve` on a pseudo-terminal; `screen()` is everything it showed. */
async function serveOnTerminal(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn('script', ['-qfec', `exec ${process.execPath} ${CLI} serve`, '/dev/null'], {
    env: { ...process.env, OUTPAINT_HOST: '127.0.0.1', OUTPAINT_PORT: String(port), ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let screen = '';
  child.stdout.on('data', (c: Buffer) => (screen += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the server on the terminal', async () => /Server listening at/.test(screen), 20_000);
  return {
    url,
    screen: () => screen,
    /** SIGTERM to the server itself (script's child), then waits for both to end. */
    async stop() {
      const server = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
      process.kill(server, 'SIGTERM');
      return exited;
    },
  };
}

const ESC = '\u001b[';

describe('serve logs', () => {
  it('are JSON lines when stdout is not a terminal', async (t) => {
    const data = await tempDataDir();
    t.after(() => data.cleanup());
    const server = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', OUTPAINT_LOG_LEVEL: 'info' });
    await fetch(`${server.url}/nope`);
    assert.equal(await stopServer(server), 0);
    const lines = server.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; request_id?: string });
    assert.ok(lines.some((l) => l.level === 30 && /^Server listening at http/.test(l.msg)), server.stdout());
    assert.ok(lines.some((l) => l.msg === 'request refused' && l.request_id), server.stdout());
    assert.ok(!server.stdout().includes(ESC), 'no colours in JSON');
  });

  it('are pretty lines on a terminal: time, level, message, fields; coloured unless NO_COLOR', async (t) => {
    for (const noColor of [false, true]) {
      const data = await tempDataDir();
      t.after(() => data.cleanup());
      const env: Record<string, string> = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_WORKERS: '1', OUTPAINT_LOG_LEVEL: 'info' };
      if (noColor) env.NO_COLOR = '1';
      const server = await serveOnTerminal(env);
      const refused = await fetch(`${server.url}/nope`);
      const requestId = refused.headers.get('x-request-id')!;
      await waitFor('the request line', async () => server.screen().includes(`"url":"/nope"`), 10_000);
      // A line logged just before the stop is not lost when the process exits (the transport is flushed).
      await fetch(`${server.url}/last`);
      assert.equal(await server.stop(), 0);
      assert.ok(server.screen().includes('"message":"no route GET /last"'), server.screen());
      const screen = server.screen();
      assert.ok(!screen.includes('{"level":'), `no JSON lines on a terminal:\n${screen}`);
      assert.equal(screen.includes(ESC), !noColor, `colours ${noColor ? 'off with NO_COLOR' : 'on'}:\n${screen}`);
      const plain = screen.replace(/\u001b\[[0-9;]*m/g, '');
      assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+\r?$/m);
      assert.match(
        plain,
        new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: request refused \\{"request_id":"${requestId}","code":1203,"message":"no route GET /nope"\\}\\r?$`, 'm'),
      );
      // The banner and the shutdown message are there too (stderr, on the same terminal).
      assert.match(plain, /Outpaint is listening on http/);
      assert.match(plain, /SIGTERM: finishing running jobs/);
    }
  });
});
