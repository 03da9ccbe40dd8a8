/**
 * The certificate and key HTTPS is served with (OUTPAINT_TLS_CERT, OUTPAINT_TLS_KEY): read, and checked
 * as a pair, so that a wrong file is refused at start-up (or at a reload) rather than at the first
 * handshake.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { ConfigError, type TlsFiles } from '../config.js';

export interface TlsPems {
  cert: Buffer;
  key: Buffer;
}

/** Throws ConfigError naming the setting whose file cannot be read, or both when they are no usable pair. */
export async function readTls(files: TlsFiles): Promise<TlsPems> {
  const read = async (name: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigError(`${name}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const pems = { cert: await read('OUTPAINT_TLS_CERT', files.certFile), key: await read('OUTPAINT_TLS_KEY', files.keyFile) };
  try {
    tls.createSecureContext(pems);
  } catch (err) {
    throw new ConfigError(
      `OUTPAINT_TLS_CERT=${files.certFile}, OUTPAINT_TLS_KEY=${files.keyFile}: not a usable certificate and private key (${(err as Error).message})`,
    );
  }
  return pems;
}
