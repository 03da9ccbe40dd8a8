#!/usr/bin/env node
/**
 * The `outpaint` command. Each subcommand lives in its own module and imports its heavy dependencies
 * inside its action, so `outpaint expand` does not pay for the HTTP server's start-up and vice versa.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { userDirectory } from './cwd.js';
import { registerExpandCommand } from './expand.js';
import { registerKeysCommand } from './keys.js';
import { registerServeCommand } from './serve.js';
import { registerTokenCommand } from './token.js';
import { registerWorkerCommand } from './worker.js';
import { CliError } from './errors.js';
import { StorageUnavailableError } from '../storage/storage.js';

const { version, scripts } = createRequire(import.meta.url)('../../../package.json') as {
  version: string;
  scripts: Record<string, string>;
};

// Relative paths (files, OUTPAINT_DATA_DIR) are the user's, also under `npm run` (see cwd.ts).
const here = userDirectory({
  cwd: process.cwd(),
  env: process.env,
  packageRoot: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'),
  scripts,
});
if (here !== process.cwd()) process.chdir(here);

const program = new Command('outpaint')
  .description('Outpaint: image expansion (outpainting) with a Kling-compatible HTTP API')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerWorkerCommand(program);
registerKeysCommand(program);
registerTokenCommand(program);
registerExpandCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help/version) already.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`outpaint: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof StorageUnavailableError) {
    // Not a bug to trace: the database is down or the settings point elsewhere.
    process.stderr.write(`outpaint: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`outpaint: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
