/**
 * Readiness (GET /readyz): the parts this process has, each with a real probe. A process serving HTTP
 * has the database and the blob store; one that also runs the worker role has the engine pool (an
 * API-only node lists no engine). Probes are measured at most once a second however often they are
 * asked (the route is unauthenticated and the database probe writes), and a part changing state is
 * logged once, with its error, rather than on every ask.
 */
import type { Logger } from 'pino';
import type { ReadinessPart } from '../api/app.js';

/** Resolves when the part can do its work now; rejects with why not. */
export type Probe = () => Promise<void>;

const MEASURE_EVERY_MS = 1000;

export class Readiness {
  private readonly probes = new Map<string, Probe>();
  private readonly problems = new Map<string, string | null>();
  private last: { at: number; parts: Promise<ReadinessPart[]> } | null = null;

  constructor(private readonly logger: Logger) {}

  add(name: string, probe: Probe): void {
    this.probes.set(name, probe);
    this.last = null;
  }

  /** Every part, in the order added, with its problem (null when it is fine). */
  parts(): Promise<ReadinessPart[]> {
    const now = Date.now();
    if (!this.last || now - this.last.at >= MEASURE_EVERY_MS) this.last = { at: now, parts: this.measure() };
    return this.last.parts;
  }

  private async measure(): Promise<ReadinessPart[]> {
    return Promise.all(
      [...this.probes].map(async ([name, probe]) => {
        let problem: string | null = null;
        let cause: unknown;
        try {
          await probe();
        } catch (err) {
          cause = err;
          problem = err instanceof Error ? err.message : String(err);
        }
        const before = this.problems.get(name);
        if (before !== problem) {
          this.problems.set(name, problem);
          if (problem !== null) this.logger.warn({ part: name, problem, cause: describe(cause) }, 'not ready');
          else if (before !== undefined) this.logger.info({ part: name }, 'ready again');
        }
        return { name, problem };
      }),
    );
  }
}

/**
 * A storage check that fails says "not writable (CODE)": the errno or SQLite code tells the operator
 * what happened, without the paths (the answer is public); the log has the whole message.
 */
export function writable(check: () => Promise<void>): Probe {
  return async () => {
    try {
      await check();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new Error(`not writable (${typeof code === 'string' ? code : 'error'})`, { cause: err });
    }
  };
}

function describe(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause ?? err;
  return cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause);
}
