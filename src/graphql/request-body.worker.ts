/** The worker thread of BodyParserPool: decodes, parses and checks large GraphQL request bodies. */
import { parentPort, workerData } from 'node:worker_threads';
import { inspectBody, type BodyLimits } from './request-body';

const limits = (workerData as { limits: BodyLimits }).limits;
if (!parentPort) throw new Error('request-body.worker must run in a worker thread');
const port = parentPort;
port.on('message', (m: { id: number; bytes: Uint8Array }) => {
  port.postMessage({ id: m.id, outcome: inspectBody(m.bytes, limits) });
});
