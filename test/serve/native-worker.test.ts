/**
 * The server runs scorers in worker threads, so the engine addon must load and compute in
 * several threads of one process at once (it is a context-aware Node-API addon).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { ones, tidy } from '../../src/torch/index.js';

const torchModule = new URL('../../src/torch/index.js', import.meta.url).href;

/** A worker that loads the engine and answers the product of a 2x3 and a 3x2 matrix of ones. */
const workerSource = `
  const { parentPort, workerData } = await import('node:worker_threads');
  const torch = await import(workerData.torchModule);
  const product = torch.ones([2, 3]).mul(workerData.factor).matmul(torch.ones([3, 2]));
  parentPort.postMessage(Array.from(product.data()));
  product.dispose();
`;

function runWorker(factor: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource)}`), {
      workerData: { torchModule, factor },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited ${code} before answering`)));
  });
}

test('the engine loads and computes in the main thread and in three workers at once', async () => {
  const main = tidy(() =>
    Array.from(
      ones([2, 3])
        .matmul(ones([3, 2]))
        .data() as Float32Array,
    ),
  );
  assert.deepEqual(main, [3, 3, 3, 3]);
  const answers = await Promise.all([1, 2, 5].map(runWorker));
  assert.deepEqual(answers, [
    [3, 3, 3, 3],
    [6, 6, 6, 6],
    [15, 15, 15, 15],
  ]);
});

const terminateScript = fileURLToPath(new URL('./terminate-busy-worker.js', import.meta.url));

test('a worker terminated inside an engine call leaves the process and the engine working', () => {
  // In a child process, since the failure is an abort.
  const child = spawnSync(process.execPath, [terminateScript], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.signal, null, child.stderr);
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /engine still works/);
});
