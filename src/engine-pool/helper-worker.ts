/**
 * Worker-thread entry of the CLI's helper thread (compiled to dist/src/engine-pool/helper-worker.js): it
 * answers the requests of the one result its parent computes (helper.ts).
 */
import { parentPort } from 'node:worker_threads';
import { HelperService, type HelperRequest } from './helper.js';

const port = parentPort!;
const service = new HelperService();
port.on('message', (req: HelperRequest) => service.answer(req, port));
