/**
 * One role of Outpaint in a process of its own (`node dist/test/support/role-process.js api|worker`),
 * so that tests can put the API and the worker in different processes over one data directory, as a
 * scaled-out deployment does. Prints "listening on URL" (api) or "worker running" (worker) once ready.
 */
import { loadConfig } from '../../src/config.js';
import { startOutpaint } from '../../src/server.js';

const role = process.argv[2];
if (role !== 'api' && role !== 'worker') {
  process.stderr.write('usage: role-process.js api|worker\n');
  process.exit(2);
}
const server = await startOutpaint(loadConfig(), { roles: { api: role === 'api', worker: role === 'worker' } });
process.stderr.write(role === 'api' ? `Outpaint API listening on ${server.url}\n` : 'Outpaint worker running\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
