/** A failure the CLI reports as one line; exit code 2 for bad input or usage, 130 for Ctrl-C, 1 for anything else. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 130 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
