import type { Command } from 'commander';
import type { Storage } from '../storage/storage.js';
import { DOCS_PATH, HEALTH_PATH, OPENAPI_PATH, WEB_PATH } from '../contract/paths.js';
import { loadCliConfig, startFromCli } from './config.js';
import { stopOnSignals } from './run.js';

/**
 * `outpaint serve`: the HTTP API, the job runner and the callback dispatcher in one process;
 * `--no-workers`: the HTTP API alone, for a deployment whose jobs run in `outpaint worker` processes.
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the server (settings come from OUTPAINT_* environment variables; see the README)')
    .option('--no-workers', 'serve the API only: no engine threads, jobs and callbacks are left to `outpaint worker` processes')
    .action(async (opts: { workers: boolean }) => {
      const config = await loadCliConfig();
      // On a terminal, lines for people; otherwise (a file, a pipe, a log collector) pino's JSON.
      const logger = process.stdout.isTTY ? (await import('./pretty-log.js')).prettyLogger(config.logLevel) : undefined;
      const server = await startFromCli(config, { logger, roles: { api: true, worker: opts.workers } });
      const say = (s: string) => process.stderr.write(s + '\n');
      stopOnSignals(server, config.shutdownGraceMs, say);
      // Renewed certificates (certbot, cert-manager) are picked up without a restart. Without TLS SIGHUP
      // keeps its default (the process ends when its terminal goes away).
      if (config.tls) process.on('SIGHUP', () => void server.reloadTls());
      // One write: a reader (a supervisor, a test) that sees the first line has the whole banner.
      say(banner(server.url, server.storage, opts.workers ? config.workers : 0).join('\n'));
      if (server.firstKey) {
        const k = server.firstKey;
        say('First start: created an API key. It is shown only this once:');
        say(`  access key:     ${k.accessKey}`);
        say(`  secret key:     ${k.secretKey}`);
        say(`  webhook secret: ${k.webhookSecret}`);
        say(`A token for it: npm run outpaint -- token --access-key ${k.accessKey}  (asks for the secret key)`);
        say('More keys:      npm run outpaint -- keys create --name NAME');
      }
    });
}

/** What a person needs first: where it listens, the page, where the API is described, the health check, what runs the jobs, the data. */
export function banner(url: string, storage: Pick<Storage, 'location' | 'blobsLocation' | 'blobLinks'>, engineThreads: number): string[] {
  return [
    `Outpaint is listening on ${url}`,
    `  web page       ${url}${WEB_PATH}`,
    `  API reference  ${url}${DOCS_PATH}  (OpenAPI document: ${url}${OPENAPI_PATH})`,
    `  health         ${url}${HEALTH_PATH}`,
    `  engines        ${engineThreads > 0 ? threads(engineThreads) : 'none here (--no-workers): `outpaint worker` processes run the jobs'}`,
    `  files          ${storage.blobsLocation}${storage.blobLinks ? `; result links are presigned S3 URLs (${storage.blobLinks.origin})` : ''}`,
    `  data           ${storage.location}`,
  ];
}

export function threads(n: number): string {
  return `${n} engine thread${n === 1 ? '' : 's'} (OUTPAINT_WORKERS)`;
}

