#!/usr/bin/env node
// Throughput of `duiad serve` with a real model: 200 concurrent POST /score requests on
// loopback, each a different Fashion-MNIST test image as PNG; several rounds per worker
// count (engine threads per worker: all cores, or 1); prints requests/s (median round) and any non-200 answer, and writes a JSON line to
// benchmarks/results/serve.jsonl.
//
// Usage (after `npm run build`):
//   node bin/duiad.js train --dataset fashion-mnist --normal-class 0 --calibration-share 0.1 \
//     --out /tmp/fm0.safetensors
//   node benchmarks/serve.mjs /tmp/fm0.safetensors [requests=200] [rounds=3]
import { appendFile, mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import sharp from 'sharp';

import { loadDataset } from '../dist/src/data/datasets.js';
import { startServer } from '../dist/src/serve/index.js';

const [modelPath, requestsArg = '200', roundsArg = '3'] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: node benchmarks/serve.mjs MODEL [requests] [rounds]');
  process.exit(2);
}
const requests = Number(requestsArg);
const rounds = Number(roundsArg);

// The request bodies: test images as PNG files, made before any timing.
const test = await loadDataset('fashion-mnist', 'test');
const side = test.height * test.width;
const bodies = await Promise.all(
  Array.from({ length: requests }, (_, i) =>
    sharp(Buffer.from(test.images.subarray(i * side, (i + 1) * side)), {
      raw: { width: test.width, height: test.height, channels: 1 },
    })
      .png()
      .toBuffer(),
  ),
);

async function round(url) {
  const started = performance.now();
  const answers = await Promise.all(
    bodies.map((body) =>
      fetch(`${url}/score`, { method: 'POST', headers: { 'content-type': 'image/png' }, body }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const failed = answers.filter((a) => a.status !== 200).map((a) => a.status);
  await Promise.all(answers.map((a) => a.arrayBuffer()));
  return { seconds, failed };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await mkdir('benchmarks/results', { recursive: true });
for (const [workers, threads] of [
  [1, undefined],
  [1, 1],
  [2, undefined],
  [2, 1],
]) {
  const { server, url } = await startServer({ modelPath, port: 0, workers, threads });
  const rates = [];
  const failures = [];
  for (let r = 0; r < rounds; r++) {
    const { seconds, failed } = await round(url);
    rates.push(requests / seconds);
    failures.push(...failed);
  }
  await server.close();
  const result = {
    date: new Date().toISOString(),
    workers,
    threads: threads ?? 'all cores',
    requests,
    rounds,
    medianRequestsPerSecond: Number(median(rates).toFixed(1)),
    roundsRequestsPerSecond: rates.map((x) => Number(x.toFixed(1))),
    non200: failures.length,
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
  };
  console.log(JSON.stringify(result));
  await appendFile('benchmarks/results/serve.jsonl', `${JSON.stringify(result)}\n`);
}
