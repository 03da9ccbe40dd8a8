import type { Config } from '../config.js';
import { CliError } from './errors.js';

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
