import type { Command } from 'commander';
import { DOCS_PATH, HEALTH_PATH, OPENAPI_PATH, WEB_PATH } from '../contract/paths.js';
import { loadCliConfig } from './config.js';
import { CliError } from './errors.js';

/** `outpaint serve`: the HTTP API, the job runner and the callback dispatcher in one process. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the server (settings come from OUTPAINT_* environment variables; see the README)')
    .action(async () => {
      const config = await loadCliConfig();
      const { startOutpaint } = await import('../server.js');
      // On a terminal, lines for people; otherwise (a file, a pipe, a log collector) pino's JSON.
      const logger = process.stdout.isTTY ? (await import('./pretty-log.js')).prettyLogger(config.logLevel) : undefined;
      const server = await startOutpaint(config, { logger }).catch(async (err: unknown) => {
        // A certificate or key that cannot be used is a bad setting, like any other (exit 2).
        const { ConfigError } = await import('../config.js');
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      });
      const say = (s: string) => process.stderr.write(s + '\n');
      // Handlers first: a supervisor may signal as soon as it reads the banner.
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          // A second signal: stop now. Running jobs keep their lease and are picked up again after it
          // (OUTPAINT_JOB_LEASE_S), as after a crash; nothing accepted is lost.
          say(`${signal} again: stopping now; running jobs are retried after their lease`);
          process.exit(1);
        }
        stopping = true;
        say(`${signal}: finishing running jobs (up to ${config.shutdownGraceMs / 1000} s), then stopping`);
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`outpaint: shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // Renewed certificates (certbot, cert-manager) are picked up without a restart. Without TLS SIGHUP
      // keeps its default (the process ends when its terminal goes away).
      if (config.tls) process.on('SIGHUP', () => void server.reloadTls());
      for (const line of banner(server.url, server.storage.location)) say(line);
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

/** What a person needs first: where it listens, the page, where the API is described, the health check, the data. */
export function banner(url: string, location: string): string[] {
  return [
    `Outpaint is listening on ${url}`,
    `  web page       ${url}${WEB_PATH}`,
    `  API reference  ${url}${DOCS_PATH}  (OpenAPI document: ${url}${OPENAPI_PATH})`,
    `  health         ${url}${HEALTH_PATH}`,
    `  data           ${location}`,
  ];
}
