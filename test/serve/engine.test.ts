/**
 * The server with a scorer that computes with the real engine in its workers. Tearing down a
 * worker thread inside an engine call aborts the process, so these tests pass only if time-outs
 * and forced shutdowns let the engine call return first.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startServer } from '../../src/serve/index.js';
import { tempDir } from '../helpers/data.js';
import { greyPng } from '../helpers/png.js';
import { post } from './helpers.js';

const engineScorer = fileURLToPath(new URL('./engine-scorer.js', import.meta.url));

async function engineServer(dir: string, jobTimeoutMs: number) {
  const modelPath = join(dir, 'engine-model.json');
  await writeFile(modelPath, JSON.stringify({ engineMs: 2500, engineOnWidth: 14 }));
  const events: string[] = [];
  const started = await startServer({
    modelPath,
    port: 0,
    scorerModule: engineScorer,
    limits: { jobTimeoutMs },
    onEvent: (event) => events.push(event.type),
  });
  return { ...started, events };
}

test('a job that times out inside the engine gets 504; its worker stops when the call returns', async (t) => {
  const { server, url, events } = await engineServer(await tempDir(t), 300);
  const started = performance.now();
  const slow = await post(`${url}/score`, greyPng(14, 1, 0), 'image/png');
  assert.equal(slow.status, 504);
  assert.ok(performance.now() - started < 2000, 'the 504 did not wait for the engine');
  // The replacement serves while the timed-out worker still computes.
  const next = await post(`${url}/score`, greyPng(4, 4, 255), 'image/png');
  assert.equal(next.status, 200);
  await server.close();
  assert.deepEqual(events, ['jobTimedOut', 'workerReady', 'workerExited']);
});

test('a forced close answers 503 at once and stops after the engine call returns', async (t) => {
  const { server, url } = await engineServer(await tempDir(t), 60_000);
  const inFlight = post(`${url}/score`, greyPng(14, 1, 0), 'image/png');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = performance.now();
  const closed = server.close({ force: true });
  const answer = await inFlight;
  const answeredMs = performance.now() - started;
  assert.equal(answer.status, 503);
  assert.ok(answeredMs < 1500, `503 after ${answeredMs.toFixed(0)} ms`);
  await closed;
  assert.ok(performance.now() - started > answeredMs);
});
