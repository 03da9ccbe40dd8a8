import type { Command } from 'commander';
import { loadCliConfig, startFromCli } from './config.js';
import { stopOnSignals } from './run.js';
import { threads } from './serve.js';

/**
 * `outpaint worker`: the engine threads, the job runner, the callback dispatcher and the expiry sweep,
 * with no HTTP port. Any number of them share the storage of `outpaint serve --no-workers` processes.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run jobs and deliver callbacks, without an HTTP port (settings as for serve; see the README, "Scale-out")')
    .action(async () => {
      const config = await loadCliConfig();
      const logger = process.stdout.isTTY ? (await import('./pretty-log.js')).prettyLogger(config.logLevel) : undefined;
      const server = await startFromCli(config, { logger, roles: { api: false, worker: true } });
      const say = (s: string) => process.stderr.write(s + '\n');
      stopOnSignals(server, config.shutdownGraceMs, say);
      const links = server.storage.blobLinks
        ? `presigned S3 URLs (${server.storage.blobLinks.origin})`
        : `${server.url}${config.publicUrl ? '' : '  (OUTPAINT_PUBLIC_URL unset: set it to the address clients reach the API at)'}`;
      // One write, as serve's banner.
      say(
        [
          `Outpaint worker running: ${threads(config.workers)}, no HTTP port`,
          `  result links   ${links}`,
          `  files          ${server.storage.blobsLocation}`,
          `  data           ${server.storage.location}`,
        ].join('\n'),
      );
    });
}
