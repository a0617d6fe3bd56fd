/**
 * Run as a script by native-worker.test.ts: starts a worker that computes with the engine in a
 * loop, terminates it mid-computation, then checks that the engine still works here. Prints
 * "engine still works" and exits 0 if the process survives.
 */
import { Worker } from 'node:worker_threads';

import { ones, tidy } from '../../src/torch/index.js';

const torchModule = new URL('../../src/torch/index.js', import.meta.url).href;
const source = `
  const { parentPort, workerData } = await import('node:worker_threads');
  const torch = await import(workerData.torchModule);
  parentPort.postMessage('started');
  for (;;) {
    const a = torch.randn([64, 64]);
    a.matmul(a).dispose();
    a.dispose();
  }
`;

const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
  workerData: { torchModule },
});
await new Promise((resolve) => worker.once('message', resolve));
await new Promise((resolve) => setTimeout(resolve, 200));
await worker.terminate();
const product = tidy(() =>
  Array.from(
    ones([2, 2])
      .matmul(ones([2, 2]))
      .data() as Float32Array,
  ),
);
if (product.join() !== '2,2,2,2') throw new Error(`engine gave ${product.join()}`);
process.stdout.write('engine still works\n');
