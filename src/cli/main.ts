#!/usr/bin/env node
/**
 * The `outpaint` command. Each subcommand lives in its own module and imports its heavy dependencies
 * inside its action, so `outpaint expand` does not pay for the HTTP server's start-up and vice versa.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { registerExpandCommand } from './expand.js';
import { registerKeysCommand } from './keys.js';
import { registerServeCommand } from './serve.js';
import { CliError } from './errors.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('outpaint')
  .description('Outpaint: image expansion (outpainting) with a Kling-compatible HTTP API')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerKeysCommand(program);
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
  } else {
    process.stderr.write(`outpaint: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
