/**
 * Where the user stands. `npm run outpaint -- …` (and `npm start`) run the CLI in the package's root
 * whichever folder the user typed them in; npm says where that was in INIT_CWD. Every relative path the
 * CLI takes (input and output files, OUTPAINT_DATA_DIR) means "from where I typed the command", however
 * the CLI was started: `npx outpaint`, an `npm link`ed or global `outpaint`, `node path/to/cli`, or an
 * npm script of this package.
 */
import path from 'node:path';

export interface Invocation {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** This package's root (the folder of its package.json). */
  packageRoot: string;
  /** This package's scripts, from its package.json. */
  scripts: Record<string, string>;
}

/**
 * The folder relative paths are taken from. INIT_CWD counts only when npm is running one of this
 * package's own scripts that starts this CLI, in the package root: INIT_CWD is inherited by everything
 * npm starts, so a CLI started by some other script (a test runner, another project's `cd sub && outpaint
 * …`) stays where it was started.
 */
export function userDirectory({ cwd, env, packageRoot, scripts }: Invocation): string {
  const initCwd = env.INIT_CWD;
  const event = env.npm_lifecycle_event;
  if (!initCwd || !event || path.resolve(cwd) !== path.resolve(packageRoot)) return cwd;
  const script = scripts[event];
  const runsThisCli = script !== undefined && script === env.npm_lifecycle_script && /\bsrc\/cli\/main\.js\b/.test(script);
  return runsThisCli ? path.resolve(initCwd) : cwd;
}
