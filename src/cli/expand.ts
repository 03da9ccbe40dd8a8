/**
 * `outpaint expand`: runs the engine on a file. Same validation rules and messages as the HTTP API.
 * Exit codes: 0 done, 2 bad input (arguments, image), 1 anything else. Heavy modules (sharp, the engine,
 * the worker pool) load only when the command runs, so other commands start fast.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { RATIO_FIELDS } from '../contract/rules.js';
import type { ExpansionRatios, QualityPreset } from '../engine/types.js';
import type { TwoThreads } from '../engine-pool/two-threads.js';

const EXIT_BAD_INPUT = 2;
const EXIT_FAILURE = 1;

interface ExpandCliOptions {
  up?: string;
  down?: string;
  left?: string;
  right?: string;
  n?: string;
  seed?: string;
  quality?: string;
  output?: string;
  quiet?: boolean;
}

class BadInput extends Error {}

export function registerExpandCommand(program: Command): void {
  program
    .command('expand')
    .description('Grow an image outward with synthesised content and write the result(s) as PNG or JPEG')
    .argument('<input>', 'JPEG or PNG image (judged by content)')
    .option('--up <ratio>', 'growth above, as a multiple of the height, in [0, 2]')
    .option('--down <ratio>', 'growth below, as a multiple of the height, in [0, 2]')
    .option('--left <ratio>', 'growth on the left, as a multiple of the width, in [0, 2]')
    .option('--right <ratio>', 'growth on the right, as a multiple of the width, in [0, 2]')
    .option('-n, --n <count>', 'number of results, 1 to 9; result i uses seed + i', '1')
    .option('--seed <int>', 'random seed: the same seed gives the same image', '0')
    .option('--quality <preset>', 'fast, balanced or best (default: OUTPAINT_QUALITY or balanced)')
    .option(
      '-o, --output <path>',
      'where to write; .jpg/.jpeg writes JPEG, anything else PNG. With -n above 1, -0, -1, ... are ' +
        'inserted before the extension (out.png -> out-0.png, out-1.png). Default: INPUT-expanded.png beside INPUT',
    )
    .option('-q, --quiet', 'no progress bar (there is none either when stderr is not a terminal)')
    .addHelpText(
      'after',
      '\nThe area rule applies: (1 + left + right) × (1 + up + down) ≤ 3, with at least one ratio above 0.\n' +
        'Exit status: 0 on success, 2 on bad input (arguments or image), 1 on other failures.',
    )
    .exitOverride((err) => {
      // Commander has already printed its message; map its parse errors to "bad input".
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exit(ok ? 0 : EXIT_BAD_INPUT);
    })
    .action(async (input: string, opts: ExpandCliOptions) => {
      process.exitCode = await runExpand(input, opts);
    });
}

async function runExpand(input: string, opts: ExpandCliOptions): Promise<number> {
  const bar = process.stderr.isTTY && !opts.quiet ? new ProgressBar(process.stderr) : null;
  try {
    const written = await expandFile(input, opts, bar);
    for (const file of written) process.stdout.write(`${file}\n`);
    return 0;
  } catch (err) {
    // A message after a half-drawn bar starts on a line of its own.
    bar?.abandon();
    const { ApiError } = await import('../contract/errors.js');
    const { EngineCancelledError } = await import('../engine/types.js');
    if (err instanceof BadInput || err instanceof ApiError) {
      const message = err instanceof ApiError ? inFlags(err.message, input) : err.message;
      process.stderr.write(`outpaint expand: ${message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof EngineCancelledError) {
      process.stderr.write('outpaint expand: cancelled\n');
      return 130;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`outpaint expand: ${message.split('\n')[0]}\n`);
    return EXIT_FAILURE;
  }
}

/**
 * The contract's rules name the API's fields (`left_expansion_ratio: 3 is outside [0, 2]`); on the command
 * line the user typed flags and a file, so the message names those (`--left: 3 is outside [0, 2]`).
 */
export function inFlags(message: string, input: string): string {
  const flags: Record<string, string> = { n: '-n', image: input };
  for (const [side, field] of Object.entries(RATIO_FIELDS)) flags[field] = `--${side}`;
  const colon = message.indexOf(': ');
  const field = colon < 0 ? '' : message.slice(0, colon);
  const rule = colon < 0 ? message : message.slice(colon + 2);
  const named = rule.replace(/\b(?:up|down|left|right)_expansion_ratio\b/g, (f) => flags[f]);
  return colon < 0 ? named : `${flags[field] ?? field}: ${named}`;
}

function parseNumber(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  // Number('') is 0 and Number(' 1 ') is 1: refuse blanks so that a typo is not read as a ratio.
  return v.trim() === '' ? NaN : Number(v);
}

/** Output file names: PATH as given for one result, PATH with -i before the extension for several. */
export function outputPaths(input: string, output: string | undefined, n: number): string[] {
  const base = output ?? path.join(path.dirname(input), `${path.parse(input).name}-expanded.png`);
  if (n === 1) return [base];
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  return Array.from({ length: n }, (_, i) => `${stem}-${i}${ext}`);
}

async function expandFile(input: string, opts: ExpandCliOptions, bar: ProgressBar | null): Promise<string[]> {
  const [{ checkRatios, checkN }, { loadConfig }] = await Promise.all([import('../contract/rules.js'), import('../config.js')]);
  const ratios = checkRatios({
    up: parseNumber(opts.up),
    down: parseNumber(opts.down),
    left: parseNumber(opts.left),
    right: parseNumber(opts.right),
  });
  const n = checkN(parseNumber(opts.n));
  const seed = parseNumber(opts.seed) ?? 0;
  if (!Number.isSafeInteger(seed)) throw new BadInput(`--seed: ${opts.seed} is not an integer`);
  const config = loadConfig();
  const quality = opts.quality ?? config.quality;
  if (quality !== 'fast' && quality !== 'balanced' && quality !== 'best') {
    throw new BadInput(`--quality: ${quality} is not one of fast, balanced, best`);
  }
  const outputs = outputPaths(input, opts.output, n);
  // One result: this thread and one helper thread (a pool would only add start-up time), started now so
  // that it boots while the input is read and decoded.
  const twoThreads = n === 1 && config.workers > 1 ? new (await import('../engine-pool/two-threads.js')).TwoThreads() : null;
  try {
    return await expandInput(input, outputs, { ratios, n, seed, quality, workers: config.workers, maxPixels: config.maxPixels }, twoThreads, bar);
  } finally {
    await twoThreads?.close();
  }
}

async function expandInput(
  input: string,
  outputs: string[],
  job: { ratios: ExpansionRatios; n: number; seed: number; quality: QualityPreset; workers: number; maxPixels: number },
  twoThreads: TwoThreads | null,
  bar: ProgressBar | null,
): Promise<string[]> {
  const { ratios, n, seed, quality } = job;
  const fs = await import('node:fs/promises');
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInput(`cannot read ${input}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  const { decodeRaster } = await import('../image/decode.js');
  const raster = await decodeRaster(bytes, { maxPixels: job.maxPixels });

  const onProgress = bar ? (p: { done: number; total: number }) => bar.update(p.done, p.total) : undefined;
  bar?.update(0, 1);
  let images;
  if (twoThreads) {
    images = [await twoThreads.expand(raster, ratios, { seed, quality, onProgress })];
  } else if (n === 1) {
    const { expand } = await import('../engine/index.js');
    images = [expand(raster, ratios, { seed, quality, onProgress })];
  } else {
    const { EnginePool } = await import('../engine-pool/index.js');
    const pool = new EnginePool({ threads: job.workers });
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      images = await pool.expand(raster, ratios, { n, seed, quality, onProgress, signal: abort.signal });
    } finally {
      process.off('SIGINT', onSigint);
      await pool.close();
    }
  }
  bar?.finish();

  // The same encoder as the service: PNG or JPEG with metadata saying the image is machine-generated.
  const { encodeResult } = await import('../image/encode.js');
  await Promise.all(
    images.map(async (img, i) => {
      const file = outputs[i];
      const bytes = await encodeResult(img, /\.jpe?g$/i.test(file) ? 'jpeg' : 'png');
      await fs.writeFile(file, bytes).catch((err: Error) => {
        throw new Error(`cannot write ${file}: ${err.message}`);
      });
    }),
  );
  return outputs;
}

/**
 * One line on the terminal, redrawn in place (carriage return) only when the whole percent changes:
 * `expanding [##########--------------------]  33%  4.2 s`. Fits narrow terminals.
 */
export class ProgressBar {
  private shown = -1;
  private drawn = false;
  private readonly started = Date.now();

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(done: number, total: number): void {
    const percent = total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 0;
    if (percent === this.shown) return;
    this.shown = percent;
    this.draw(percent);
  }

  /** Draws 100 % and ends the line. */
  finish(): void {
    if (this.shown !== 100) this.draw(100);
    this.end();
  }

  /** Ends the line where the bar stopped (before an error message). */
  abandon(): void {
    this.end();
  }

  private draw(percent: number): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    const tail = ` ${String(percent).padStart(3)}%  ${seconds} s`;
    const width = Math.max(10, Math.min(30, (this.out.columns || 80) - 'expanding []'.length - tail.length - 1));
    const filled = Math.round((width * percent) / 100);
    this.out.write(`\rexpanding [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`);
    this.drawn = true;
  }

  private end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
