/**
 * A scoring worker thread: loads the model once through the scorer module, then runs the jobs
 * the pool sends it, one at a time, off the server's event loop.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';

import type { Scorer } from '../detect/types.js';
import type { PoolMessage, WorkerData, WorkerMessage } from './protocol.js';
import { toWireError } from './protocol.js';
import { importLoadScorer } from './scorer-module.js';

function requirePort(): MessagePort {
  if (parentPort === null) throw new Error('serve worker: must run in a worker thread');
  return parentPort;
}

const port = requirePort();
const data = workerData as WorkerData;

function post(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * The buffers of anomaly maps, handed over rather than copied. Only a map that owns its whole
 * buffer goes: a view into a shared one (Node's pool of small Buffers) is copied instead.
 */
function buffersOf(results: readonly object[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const result of results) {
    const png = (result as { png?: unknown }).png;
    if (!(png instanceof Uint8Array) || !(png.buffer instanceof ArrayBuffer)) continue;
    if (png.byteOffset === 0 && png.byteLength === png.buffer.byteLength) buffers.add(png.buffer);
  }
  return [...buffers];
}

async function runJob(scorer: Scorer, message: PoolMessage & { type: 'job' }): Promise<void> {
  try {
    const results =
      message.kind === 'score'
        ? await scorer.scoreEncoded(message.images)
        : await scorer.mapEncoded(message.images);
    const transfer = message.kind === 'map' ? buffersOf(results) : [];
    post({ type: 'done', id: message.id, results }, transfer);
  } catch (error) {
    post({ type: 'failed', id: message.id, error: toWireError(error) });
  }
}

async function load(): Promise<Scorer | null> {
  try {
    if (data.threads !== undefined) {
      // The engine's thread count belongs to the thread that sets it, so each worker sets its own.
      (await import('../torch/index.js')).setNumThreads(data.threads);
    }
    const loadScorer = await importLoadScorer(data.scorerModule);
    return await loadScorer(data.modelPath);
  } catch (error) {
    post({ type: 'loadFailed', error: toWireError(error) });
    port.close();
    return null;
  }
}

const scorer = await load();
if (scorer !== null) {
  // The job in progress: a stop waits for it, so the scorer is never disposed mid-call.
  let running: Promise<void> = Promise.resolve();
  port.on('message', (message: PoolMessage) => {
    if (message.type === 'job') {
      running = runJob(scorer, message);
      return;
    }
    void running.then(() => {
      scorer.dispose();
      port.close();
    });
  });
  post({ type: 'ready', info: scorer.info });
}
