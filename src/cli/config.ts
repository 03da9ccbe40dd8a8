import type { Config } from '../config.js';
import type { Outpaint, StartOptions } from '../server.js';
import { CliError } from './errors.js';

/** Starts a process's roles; storage that does not answer at start is a plain message (exit 1), not a stack. */
export async function startFromCli(config: Config, options: StartOptions): Promise<Outpaint> {
  const { startOutpaint } = await import('../server.js');
  const { StorageUnavailableError } = await import('../storage/storage.js');
  const { ConfigError } = await import('../config.js');
  try {
    return await startOutpaint(config, options);
  } catch (err) {
    if (err instanceof StorageUnavailableError) throw new CliError(err.message, 1);
    // A certificate or key that cannot be used is a bad setting, like any other (exit 2).
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

/** The settings from the environment; a bad one is a usage error (exit 2) whose message names it. */
export async function loadCliConfig(): Promise<Config> {
  const { loadConfig, ConfigError } = await import('../config.js');
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}
