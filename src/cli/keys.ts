import type { Command } from 'commander';
import type { KeyStore } from '../storage/key-store.js';
import { loadCliConfig } from './config.js';
import { CliError } from './errors.js';

/**
 * `outpaint keys create|list|revoke`: API keys live in the server's database (OUTPAINT_DATA_DIR's, in
 * the embedded mode). Each command says which database it used; list and revoke refuse where there is
 * none rather than create an empty one and answer "no keys".
 */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description("manage API keys (stored in the server's database: OUTPAINT_DATA_DIR's, by default ./data)");

  keys
    .command('create')
    .description('create an access key, secret key and webhook secret')
    .requiredOption('--name <name>', 'a label for the key, e.g. who uses it')
    .option('--account <id>', 'add the key to an existing account (default: a new account)')
    .option('--json', 'print {"access_key","secret_key","webhook_secret"} as JSON (where it was stored goes to stderr)')
    .action(async (opts: { name: string; account?: string; json?: boolean }) => {
      const { newApiKey } = await import('../accounts/keys.js');
      await withKeys({ create: true }, async (keys, where) => {
        if (opts.account && !(await keys.list()).some((k) => k.accountId === opts.account)) {
          throw new CliError(`--account: no account ${opts.account} in ${where.location}`, 2);
        }
        const key = newApiKey(opts.name, opts.account);
        await keys.create(key);
        const stored =
          `${where.location}` +
          (where.created ? ' (new: there was no database; a server started with the same settings uses it)' : '');
        if (opts.json) {
          const out = { access_key: key.accessKey, secret_key: key.secretKey, webhook_secret: key.webhookSecret };
          process.stdout.write(JSON.stringify(out) + '\n');
          process.stderr.write(`outpaint: key stored in ${stored}\n`);
        } else {
          process.stdout.write(
            `access key:     ${key.accessKey}\nsecret key:     ${key.secretKey}\n` +
              `webhook secret: ${key.webhookSecret}\naccount:        ${key.accountId}\n` +
              `stored in:      ${stored}\n` +
              'The secret key is shown only now; keep it safe.\n',
          );
        }
      });
    });

  keys
    .command('list')
    .description('list keys (secrets are not shown)')
    .option('--json', 'print a JSON array (which database was read goes to stderr)')
    .action(async (opts: { json?: boolean }) => {
      await withKeys({ create: false }, async (keys, { location }) => {
        const rows = (await keys.list()).map((k) => ({
          access_key: k.accessKey,
          name: k.name,
          account: k.accountId,
          created_at: new Date(k.createdAt).toISOString(),
          revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
        }));
        if (opts.json) {
          process.stdout.write(JSON.stringify(rows) + '\n');
          process.stderr.write(`outpaint: ${rows.length} ${rows.length === 1 ? 'key' : 'keys'} in ${location}\n`);
        } else if (rows.length === 0) {
          process.stdout.write(`no keys in ${location}; make one with: outpaint keys create --name NAME\n`);
        } else {
          process.stdout.write(`${rows.length} ${rows.length === 1 ? 'key' : 'keys'} in ${location}:\n`);
          for (const r of rows) {
            process.stdout.write(
              `  ${r.access_key}  ${r.name}  ${r.account}  created ${r.created_at}` +
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
      await withKeys({ create: false }, async (keys, { location }) => {
        if (!(await keys.revoke(accessKey, Date.now()))) {
          throw new CliError(`no live key ${accessKey} in ${location}`, 2);
        }
        process.stdout.write(`revoked ${accessKey} in ${location}\n`);
      });
    });
}

interface Where {
  /** storage.location: e.g. "SQLite database /srv/outpaint/data/outpaint.db". */
  location: string;
  /** This command created the database. */
  created: boolean;
}

/** Runs `fn` on the keys of the configured storage; with `create: false`, refuses where there is none. */
async function withKeys<T>(opts: { create: boolean }, fn: (keys: KeyStore, where: Where) => Promise<T>): Promise<T> {
  const config = await loadCliConfig();
  const { openStorage, StorageNotFoundError } = await import('../storage/index.js');
  let storage;
  let created = false;
  try {
    storage = await openStorage(config, { create: false });
  } catch (err) {
    if (!(err instanceof StorageNotFoundError)) throw err;
    if (!opts.create) {
      throw new CliError(
        `${err.location} does not exist, so it holds no keys. Keys live in the server's database: run this ` +
          'with the settings the server runs with (the same OUTPAINT_DATA_DIR, or the same folder if it is relative)',
      );
    }
    storage = await openStorage(config, { create: true });
    created = true;
  }
  try {
    return await fn(storage.keys, { location: storage.location, created });
  } finally {
    await storage.close();
  }
}
