/**
 * Runs Outpaint as users do: `node dist/src/cli/main.js …` as a child process, with its own data
 * directory, so tests exercise the real CLI, the real server and real files.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { signToken } from './jwt.js';
import { tempDir } from './tmp.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

export interface Keys {
  access_key: string;
  secret_key: string;
  webhook_secret: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and never throws on a non-zero exit: by default `node CLI ARGS…`; with
 * `command`, that program instead (npm, a linked `outpaint` on PATH, …) with ARGS.
 */
export async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string; input?: string } = {},
): Promise<CliResult> {
  const [file, argv] = opts.command ? [opts.command, args] : [process.execPath, [CLI, ...args]];
  const child = execFile(file, argv, { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 16 << 20 });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  return { code, stdout, stderr };
}

export async function tempDataDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await tempDir();
  return { dir: dir.path, cleanup: dir.remove };
}

/** `outpaint keys create --name NAME --json` against a data directory. */
export async function createKeys(dataDir: string, name = 'test'): Promise<Keys> {
  const { stdout } = await run(process.execPath, [CLI, 'keys', 'create', '--name', name, '--json'], {
    env: { ...process.env, OUTPAINT_DATA_DIR: dataDir },
  });
  return JSON.parse(stdout) as Keys;
}

export function token(keys: Keys, ttlSeconds = 1800): Promise<string> {
  return signToken(keys.access_key, keys.secret_key, { expIn: ttlSeconds });
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr (messages) and stdout (JSON logs) so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
}

/** Starts `outpaint serve [ARGS…]` (e.g. --no-workers) and resolves once it printed its URL. */
export function startServer(env: Record<string, string>, args: string[] = []): Promise<ServerProcess> {
  return startProcess([CLI, 'serve', ...args], env, /listening on (https?:\/\/\S+)/);
}

/** Starts `outpaint worker` and resolves once it printed its start line (`url` is where its result links point). */
export function startWorker(env: Record<string, string>): Promise<ServerProcess> {
  return startProcess([CLI, 'worker'], env, /Outpaint worker running[^\n]*\n {2}result links {3}(\S+)/);
}

/** Starts one role alone: an API without a worker (`serve --no-workers`), or a worker without HTTP (`worker`). */
export function startRole(role: 'api' | 'worker', env: Record<string, string>): Promise<ServerProcess> {
  return role === 'api' ? startServer(env, ['--no-workers']) : startWorker(env);
}

async function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, OUTPAINT_HOST: '127.0.0.1', OUTPAINT_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${err}`));
    });
  });
  return { url, child, stderr: () => err, stdout: () => out, exited };
}

export async function stopServer(server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  return server.exited;
}

export async function api<T = any>(
  base: string,
  method: string,
  pathname: string,
  bearer: string | null,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(base + pathname, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An API process and a worker process over one fresh data directory, as a scaled-out deployment runs them. */
export interface SplitDeployment {
  api: ServerProcess;
  worker: ServerProcess;
  /** A token of a key made with the CLI. */
  bearer: string;
  close(): Promise<void>;
}

export async function startSplitDeployment(env: Record<string, string>, workerEnv: Record<string, string> = {}): Promise<SplitDeployment> {
  const data = await tempDataDir();
  const keys = await createKeys(data.dir, 'split');
  const common = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', ...env };
  const apiProcess = await startRole('api', common);
  const workerProcess = await startRole('worker', { ...common, ...workerEnv });
  return {
    api: apiProcess,
    worker: workerProcess,
    bearer: await token(keys),
    async close() {
      await stopServer(apiProcess);
      await stopServer(workerProcess);
      await data.cleanup();
    },
  };
}
