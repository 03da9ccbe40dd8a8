import type { Outpaint } from '../server.js';

/**
 * Stops a started process the way that loses nothing: the first SIGTERM or SIGINT stops accepting
 * requests and claiming jobs, lets running jobs finish for up to the grace (then hands them back) and
 * flushes callbacks; a second one exits at once. Installed before the start line is printed, since a
 * supervisor may signal as soon as it reads it.
 */
export function stopOnSignals(server: Outpaint, graceMs: number, say: (line: string) => void): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // Running jobs keep their lease and are picked up again after it (OUTPAINT_JOB_LEASE_S), as after
      // a crash; nothing accepted is lost.
      say(`${signal} again: stopping now; running jobs are retried after their lease`);
      process.exit(1);
    }
    stopping = true;
    say(`${signal}: finishing running jobs (up to ${graceMs / 1000} s), then stopping`);
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
}
