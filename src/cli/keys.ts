import type { Command } from 'commander';
import { CliError } from './errors.js';

/** `outpaint keys create|list|revoke`: API keys live in the database of OUTPAINT_DATA_DIR. */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('manage API keys (stored in the database under OUTPAINT_DATA_DIR)');

  keys
    .command('create')
    .description('create an access key, secret key and webhook secret')
    .requiredOption('--name <name>', 'a label for the key, e.g. who uses it')
    .option('--account <id>', 'add the key to an existing account (default: a new account)')
    .option('--json', 'print {"access_key","secret_key","webhook_secret"} as JSON')
    .action(async (opts: { name: string; account?: string; json?: boolean }) => {
      const { newApiKey } = await import('../accounts/keys.js');
      await withKeys(async (keys) => {
        if (opts.account && !(await keys.list()).some((k) => k.accountId === opts.account)) {
          throw new CliError(`--account: no account ${opts.account}`, 2);
        }
        const key = newApiKey(opts.name, opts.account);
        await keys.create(key);
        if (opts.json) {
          const out = { access_key: key.accessKey, secret_key: key.secretKey, webhook_secret: key.webhookSecret };
          process.stdout.write(JSON.stringify(out) + '\n');
        } else {
          process.stdout.write(
            `access key:     ${key.accessKey}\nsecret key:     ${key.secretKey}\n` +
              `webhook secret: ${key.webhookSecret}\naccount:        ${key.accountId}\n` +
              'The secret key is shown only now; keep it safe.\n',
          );
        }
      });
    });

  keys
    .command('list')
    .description('list keys (secrets are not shown)')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }) => {
      await withKeys(async (keys) => {
        const rows = (await keys.list()).map((k) => ({
          access_key: k.accessKey,
          name: k.name,
          account: k.accountId,
          created_at: new Date(k.createdAt).toISOString(),
          revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
        }));
        if (opts.json) process.stdout.write(JSON.stringify(rows) + '\n');
        else if (rows.length === 0) process.stdout.write('no keys\n');
        else {
          for (const r of rows) {
            process.stdout.write(
              `${r.access_key}  ${r.name}  ${r.account}  created ${r.created_at}` +
                (r.revoked_at ? `  REVOKED ${r.revoked_at}` : '') +
                '\n',
            );
          }
        }
      });
    });

  keys
    .command('revoke')
    .description('revoke a key: tokens made with it stop working')
    .argument('<access_key>')
    .action(async (accessKey: string) => {
      await withKeys(async (keys) => {
        if (!(await keys.revoke(accessKey, Date.now()))) {
          throw new CliError(`no live key ${accessKey}`, 2);
        }
        process.stdout.write(`revoked ${accessKey}\n`);
      });
    });
}

async function withKeys<T>(fn: (keys: import('../storage/key-store.js').KeyStore) => Promise<T>): Promise<T> {
  const { loadConfig } = await import('../config.js');
  const { openStorage } = await import('../storage/open.js');
  const storage = await openStorage(loadConfig());
  try {
    return await fn(storage.keys);
  } finally {
    await storage.close();
  }
}
