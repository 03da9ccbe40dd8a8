/**
 * `outpaint serve` on a fresh data directory, with one account's key and a callback receiver that checks
 * that account's signatures: the set-up of the tests that use a real server as a client would (the SDK
 * in Node and in a browser, the metrics). One engine thread, the fast preset, callbacks to loopback
 * allowed; `env` adds or overrides settings.
 */
import { createKeys, startServer, stopServer, tempDataDir, type Keys, type ServerProcess } from './outpaint-process.js';
import { startReceiver, type Receiver } from './receiver.js';

export interface ServedAccount {
  keys: Keys;
  server: ServerProcess;
  receiver: Receiver;
  dataDir: string;
  /** Stops the server (with `signal`), the receiver, and removes the data directory. */
  close(signal?: NodeJS.Signals): Promise<void>;
}

export async function serveAccount(
  name: string,
  env: Record<string, string> = {},
  answer?: Parameters<typeof startReceiver>[1],
): Promise<ServedAccount> {
  const data = await tempDataDir();
  const keys = await createKeys(data.dir, name);
  const receiver = await startReceiver(keys.webhook_secret, answer);
  const server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    ...env,
  });
  return {
    keys,
    server,
    receiver,
    dataDir: data.dir,
    async close(signal) {
      await stopServer(server, signal);
      await receiver.close();
      await data.cleanup();
    },
  };
}
