/**
 * HTTPS as an operator sets it up: `outpaint serve` with OUTPAINT_TLS_CERT / OUTPAINT_TLS_KEY pointing at
 * a self-signed certificate the test makes with openssl. A client that trusts that certificate does the
 * whole lifecycle over https (create, poll, download through the https result link); plain http to the
 * port gets no answer; SIGHUP swaps in a renewed certificate for new connections, and a broken one on
 * SIGHUP keeps the old one (logged). Bad settings are exit 2, naming the variable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { createKeys, freePort, runCli, startServer, stopServer, tempDataDir, token, waitFor, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { makeCertificate, type TestCertificate } from './support/tls.js';

const EXPAND = '/v1/images/editing/expand';

let data: Awaited<ReturnType<typeof tempDataDir>>;
let certDir: string;
let first: TestCertificate;
let server: ServerProcess | null = null;
let env: Record<string, string>;

before(async () => {
  data = await tempDataDir();
  certDir = path.join(data.dir, 'certs');
  first = makeCertificate(certDir, 'outpaint-first');
  // The files the server is configured with; the test replaces their contents to "renew".
  await fs.copyFile(first.certFile, path.join(certDir, 'live.crt'));
  await fs.copyFile(first.keyFile, path.join(certDir, 'live.key'));
  env = {
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: String(await freePort()),
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_TLS_CERT: path.join(certDir, 'live.crt'),
    OUTPAINT_TLS_KEY: path.join(certDir, 'live.key'),
  };
});
after(async () => {
  if (server) await stopServer(server, 'SIGKILL');
  await data?.cleanup();
});

/** The certificate a new TLS connection to the server is shown (trusting both test certificates). */
async function presentedFingerprint(url: string, trusted: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca: trusted, servername: undefined }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

test('over https with a certificate the client trusts: create, poll, succeed, download through the https link', async () => {
  const keys = await createKeys(data.dir, 'https');
  server = await startServer(env);
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the printed URL is https');
  await waitFor('the banner', async () => /web page {7}https:\/\/127/.test(server!.stderr()), 5000);
  const agent = new Agent({ connect: { ca: first.pem } });
  const bearer = await token(keys);
  const call = async (method: string, pathname: string, body?: unknown) => {
    const res = await fetch(server!.url + pathname, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  const created = await call('POST', EXPAND, { image: (await scenePng(320, 320)).toString('base64'), right_expansion_ratio: 0.25 });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const taskId = created.body.data.task_id;
  const task = await waitFor('the task to finish', async () => {
    const q = await call('GET', `${EXPAND}/${taskId}`);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  });
  assert.equal(task.task_status, 'succeed', task.task_status_msg);
  const link: string = task.task_result.images[0].url;
  assert.ok(link.startsWith(`${server.url}/v1/files/`), `the result link is https on the server's address: ${link}`);
  const file = await fetch(link, { dispatcher: agent });
  assert.equal(file.status, 200);
  assert.deepEqual([...Buffer.from(await file.arrayBuffer()).subarray(1, 4)], [...Buffer.from('PNG')]);

  // A client that does not trust the certificate is refused by its own TLS check.
  await assert.rejects(fetch(`${server.url}/healthz`, { dispatcher: new Agent() }), (err: Error & { cause?: { code?: string } }) => {
    assert.equal(err.cause?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    return true;
  });
  await agent.close();
});

test('plain http to the TLS port gets no HTTP answer', async () => {
  assert.ok(server);
  const plain = server.url.replace('https://', 'http://');
  await assert.rejects(fetch(`${plain}/healthz`, { dispatcher: new Agent() }));
});

test('SIGHUP: new connections get the renewed certificate; a broken one keeps the current certificate, logged', async () => {
  assert.ok(server);
  const second = makeCertificate(certDir, 'outpaint-second');
  const trusted = [first.pem, second.pem];
  assert.equal(await presentedFingerprint(server.url, trusted), first.fingerprint256);

  await fs.copyFile(second.certFile, env.OUTPAINT_TLS_CERT);
  await fs.copyFile(second.keyFile, env.OUTPAINT_TLS_KEY);
  server.child.kill('SIGHUP');
  await waitFor('the renewed certificate', async () => (await presentedFingerprint(server!.url, trusted)) === second.fingerprint256, 10_000);
  const agent = new Agent({ connect: { ca: second.pem } });
  assert.equal((await fetch(`${server.url}/healthz`, { dispatcher: agent })).status, 200);
  await agent.close();

  // A key that does not match the certificate: refused, the second certificate stays.
  await fs.copyFile(first.keyFile, env.OUTPAINT_TLS_KEY);
  server.child.kill('SIGHUP');
  await waitFor('the reload failure in the log', async () => /TLS reload failed/.test(server!.stdout()), 10_000);
  assert.match(server.stdout(), /key values mismatch/);
  assert.equal(await presentedFingerprint(server.url, trusted), second.fingerprint256);
  assert.equal(server.child.exitCode, null, 'still running');
  assert.equal(await stopServer(server), 0);
  server = null;
});

test('the per-address connection cap on a TLS port: one more connection is closed before its handshake', async () => {
  const capped = await startServer({ ...env, OUTPAINT_TLS_CERT: first.certFile, OUTPAINT_TLS_KEY: first.keyFile, OUTPAINT_PORT: '0', OUTPAINT_MAX_CONNECTIONS_PER_IP: '1' });
  try {
    const { port } = new URL(capped.url);
    const held = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: Number(port), ca: [first.pem] }, () => resolve(s));
      s.on('error', reject);
    });
    const refused = await new Promise<{ secure: boolean; error: NodeJS.ErrnoException | null; bytes: number }>((resolve) => {
      let bytes = 0;
      const s = tls.connect({ host: '127.0.0.1', port: Number(port), ca: [first.pem] }, () => resolve({ secure: true, error: null, bytes }));
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', (error) => resolve({ secure: false, error, bytes }));
    });
    assert.equal(refused.secure, false);
    assert.match(`${refused.error?.code} ${refused.error?.message}`, /ECONNRESET|disconnected before secure TLS connection/);
    assert.equal(refused.bytes, 0);
    held.destroy();
  } finally {
    await stopServer(capped, 'SIGKILL');
  }
});

test('TLS settings: only one of the pair, or a file that cannot be read or used, is exit 2 naming the setting', async () => {
  const base = { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_HOST: '127.0.0.1' };
  const onlyCert = await runCli(['serve'], { env: { ...base, OUTPAINT_TLS_CERT: first.certFile } });
  assert.equal(onlyCert.code, 2, onlyCert.stderr);
  assert.match(onlyCert.stderr, /OUTPAINT_TLS_KEY is not set: HTTPS needs both/);

  const missing = path.join(certDir, 'nope.key');
  const unreadable = await runCli(['serve'], { env: { ...base, OUTPAINT_TLS_CERT: first.certFile, OUTPAINT_TLS_KEY: missing } });
  assert.equal(unreadable.code, 2, unreadable.stderr);
  assert.match(unreadable.stderr, new RegExp(`OUTPAINT_TLS_KEY=${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read it \\(ENOENT\\)`));

  const notPem = await runCli(['serve'], { env: { ...base, OUTPAINT_TLS_CERT: first.keyFile, OUTPAINT_TLS_KEY: first.keyFile } });
  assert.equal(notPem.code, 2, notPem.stderr);
  assert.match(notPem.stderr, /OUTPAINT_TLS_CERT=.*: not a usable certificate and private key/);
});
