/**
 * Logs for people: when stdout is a terminal, `serve` writes pretty lines (time, level, message, then
 * the fields on the same line) instead of pino's JSON. pino-pretty runs as a pino transport, in a worker
 * thread of its own: the request path only hands the JSON line to that thread, as it otherwise hands it
 * to the file descriptor.
 */
import { pino, transport as pinoTransport, type Logger } from 'pino';

export function prettyLogger(level: string, env: NodeJS.ProcessEnv = process.env): Logger {
  const transport = pinoTransport({
    target: 'pino-pretty',
    options: {
      destination: 1,
      // Synchronous writes in the transport's thread, so that the lines written just before exit are not lost.
      sync: true,
      // The worker's own stdout is no terminal, so pino-pretty cannot tell: decide here (https://no-color.org).
      colorize: !env.NO_COLOR,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    },
  });
  return pino({ level }, transport);
}
