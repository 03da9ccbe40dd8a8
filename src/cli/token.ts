/**
 * `outpaint token`: a Kling-style JWT for an access key and its secret key, to send as
 * `Authorization: Bearer <token>`. It needs no server and no database: it is what a client computes.
 * The secret can come from stdin, the environment or a prompt, so that it need not be typed where the
 * shell history and `ps` show it.
 */
import type { Command } from 'commander';
import { CliError } from './errors.js';

interface TokenOptions {
  accessKey?: string;
  secretKey?: string;
  secretKeyStdin?: boolean;
  ttl: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const MAX_TTL_S = 366 * 86_400;

export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a token (HS256 JWT, iss = access key) for Authorization: Bearer')
    .option('--access-key <key>', 'the access key (default: OUTPAINT_ACCESS_KEY)')
    .option('--secret-key-stdin', 'read the secret key from stdin (its first line)')
    .option('--secret-key <key>', 'the secret key; visible to ps and kept in shell history: prefer the others')
    .option('--ttl <duration>', 'how long the token is valid: seconds, or a number with s, m, h or d', '30m')
    .addHelpText(
      'after',
      '\nThe secret key comes from --secret-key-stdin, --secret-key, OUTPAINT_SECRET_KEY, or else a prompt\n' +
        '(when stdin is a terminal; what you type is not shown). Only the token is printed on stdout:\n' +
        '  TOKEN=$(outpaint token --access-key AK)\n' +
        '  printf %s "$SK" | outpaint token --access-key AK --secret-key-stdin --ttl 2h',
    )
    .action(async (opts: TokenOptions) => {
      const ttlSeconds = parseDuration(opts.ttl);
      const accessKey = opts.accessKey ?? process.env.OUTPAINT_ACCESS_KEY;
      if (!accessKey) throw new CliError('--access-key: missing (or set OUTPAINT_ACCESS_KEY)', 2);
      if (/\s/.test(accessKey)) throw new CliError('--access-key: must not contain spaces', 2);
      const secretKey = await secretKeyFrom(opts);
      const { signAccessToken } = await import('../accounts/tokens.js');
      const { token, expiresAt } = await signAccessToken(accessKey, secretKey, ttlSeconds);
      process.stdout.write(token + '\n');
      if (process.stderr.isTTY) {
        process.stderr.write(`valid for ${describeSeconds(ttlSeconds)}, until ${new Date(expiresAt).toISOString().replace('.000', '')}\n`);
      }
    });
}

/** Seconds in "1800", "90s", "30m", "2h" or "7d"; from 1 s to 366 days. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(text);
  const seconds = m ? Math.round(Number(m[1]) * UNITS[(m[2] || 's').toLowerCase()]) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_TTL_S)) {
    throw new CliError(`--ttl: ${text} is not a duration from 1s to 366d (e.g. 1800, 30m, 2h, 7d)`, 2);
  }
  return seconds;
}

function describeSeconds(s: number): string {
  for (const [unit, size] of [['day', 86_400], ['hour', 3600], ['minute', 60]] as const) {
    if (s % size === 0) return `${s / size} ${unit}${s === size ? '' : 's'}`;
  }
  return `${s} second${s === 1 ? '' : 's'}`;
}

async function secretKeyFrom(opts: TokenOptions): Promise<string> {
  if (opts.secretKeyStdin && opts.secretKey !== undefined) {
    throw new CliError('--secret-key and --secret-key-stdin: give one of them', 2);
  }
  let secret: string | undefined;
  let source: string;
  if (opts.secretKeyStdin) {
    source = '--secret-key-stdin';
    secret = process.stdin.isTTY ? await promptHidden('secret key: ') : firstLine(await readAll(process.stdin));
  } else if (opts.secretKey !== undefined) {
    source = '--secret-key';
    secret = opts.secretKey;
  } else if (process.env.OUTPAINT_SECRET_KEY) {
    source = 'OUTPAINT_SECRET_KEY';
    secret = process.env.OUTPAINT_SECRET_KEY;
  } else if (process.stdin.isTTY) {
    source = 'the prompt';
    secret = await promptHidden('secret key: ');
  } else {
    throw new CliError('no secret key: pass --secret-key-stdin (and pipe it in), set OUTPAINT_SECRET_KEY, or run in a terminal to be asked', 2);
  }
  secret = secret.trim();
  if (!secret) throw new CliError(`the secret key from ${source} is empty`, 2);
  return secret;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0];
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** Reads a line from the terminal without echoing it. Ctrl-C cancels, Ctrl-D ends the input. */
function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = process;
  // Echo off before the prompt shows, so that nothing typed after it is echoed.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003') {
          finish();
          return reject(new CliError('cancelled', 130));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
