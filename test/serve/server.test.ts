/**
 * The HTTP server on loopback with the fake scorer (score = mean brightness / 255): answers,
 * concurrency, limits, bad input, crashes, time-outs and shutdown.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DuiadError } from '../../src/errors.js';
import { createServer, defaultScorerModule } from '../../src/serve/index.js';
import { greyPng, encodePng, decodePng } from '../helpers/png.js';
import { type Answer, blob, fakeModelFile, fakeScorerModule, fakeServer, post } from './helpers.js';

function assertError(answer: Answer, status: number, code: string, pattern?: RegExp): void {
  const context = JSON.stringify(answer.json);
  assert.equal(answer.status, status, context);
  const body = answer.json as { error?: unknown; code?: unknown };
  assert.equal(body.code, code, context);
  assert.equal(typeof body.error, 'string', context);
  if (pattern !== undefined) assert.match(body.error as string, pattern);
}

/** A PNG header that claims `width` x `height` pixels, with no image data. */
function claimedSizePng(width: number, height: number): Buffer {
  const png = greyPng(1, 1, 0);
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  return png;
}

test('POST /score answers the ScoredImage of one PNG', async (t) => {
  const { url } = await fakeServer(t, { threshold: 0.5 });
  const answer = await post(`${url}/score?name=grey.png`, greyPng(8, 8, 204), 'image/png');
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.json, {
    path: 'grey.png',
    score: 0.8,
    pValue: 0.19999999999999996,
    isAnomaly: true,
    threshold: 0.5,
  });
  // Any image type or octet-stream is read the same way; the bytes decide the format.
  const dark = await post(`${url}/score`, greyPng(4, 4, 51), 'application/octet-stream');
  assert.equal(dark.status, 200);
  assert.equal((dark.json as { score: number }).score, 0.2);
  assert.equal((dark.json as { path: string }).path, 'image');
});

test('GET /health reports status, the model summary and the workers', async (t) => {
  const { url } = await fakeServer(t, { threshold: 0.3 }, { workers: 2 });
  const response = await fetch(`${url}/health`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as {
    status: string;
    info: { method: string; threshold: number };
    workers: { workers: number; ready: number; active: number; waiting: number };
  };
  assert.equal(body.status, 'ok');
  assert.equal(body.info.method, 'fake-brightness');
  assert.equal(body.info.threshold, 0.3);
  assert.deepEqual(
    { ...body.workers, maxWaiting: undefined },
    { workers: 2, ready: 2, active: 0, waiting: 0, maxWaiting: undefined },
  );
});

test('200 concurrent requests on loopback all succeed with the right scores', async (t) => {
  const { url } = await fakeServer(t, {}, { workers: 2 });
  const levels = Array.from({ length: 200 }, (_, i) => i % 256);
  const started = performance.now();
  const answers = await Promise.all(
    levels.map((level, i) =>
      post(`${url}/score?name=img-${i}`, greyPng(32, 32, level), 'image/png'),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  answers.forEach((answer, i) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const body = answer.json as { path: string; score: number };
    assert.equal(body.path, `img-${i}`);
    assert.ok(Math.abs(body.score - (levels[i] ?? 0) / 255) < 1e-12);
  });
  t.diagnostic(
    `200 concurrent requests (fake scorer, 2 workers): ${seconds.toFixed(2)} s, ${(200 / seconds).toFixed(0)} requests/s`,
  );
});

test('the event loop stays responsive while a slow scorer blocks its worker', async (t) => {
  const { url } = await fakeServer(t, { busyMs: 1500 });
  const slow = [
    post(`${url}/score`, greyPng(4, 4, 10), 'image/png'),
    post(`${url}/score`, greyPng(4, 4, 20), 'image/png'),
  ];
  await new Promise((resolve) => setTimeout(resolve, 200));

  // While the worker burns CPU for 1.5 s per image, /health answers at once.
  const started = performance.now();
  const health = await fetch(`${url}/health`);
  const body = (await health.json()) as { workers: { active: number; waiting: number } };
  const ms = performance.now() - started;
  assert.equal(health.status, 200);
  assert.deepEqual([body.workers.active, body.workers.waiting], [1, 1]);
  // A blocked event loop would wait out the rest of the 1.5 s; the margin allows a loaded machine.
  assert.ok(ms < 750, `/health took ${ms.toFixed(0)} ms while the scorer was busy`);
  for (const answer of await Promise.all(slow)) assert.equal(answer.status, 200);
});

test('bad bodies get a 4xx with {error, code} and the server keeps serving', async (t) => {
  const { url } = await fakeServer(t, {}, { limits: { bodyBytes: 4096, pixels: 1_000_000 } });
  const score = `${url}/score`;

  // Not an image, though labelled as one.
  assertError(
    await post(score, 'hello, world', 'image/png'),
    400,
    'E_FORMAT',
    /not a PNG, JPEG or WebP/,
  );
  // An empty body.
  assertError(await post(score, new Uint8Array(0), 'image/png'), 400, 'E_FORMAT', /empty/);
  // A PNG signature and header over corrupt data: the scorer refuses it.
  const corrupt = greyPng(8, 8, 100);
  corrupt.fill(7, 40, 60);
  assertError(await post(score, corrupt, 'image/png'), 400, 'E_FORMAT', /fake: image/);
  // The wrong Content-Type, or none.
  assertError(await post(score, 'hello', 'text/plain'), 415, 'E_MEDIA_TYPE');
  assertError(await post(score, '{"image": 1}', 'application/json'), 415, 'E_MEDIA_TYPE');
  assertError(await post(score, greyPng(2, 2, 0)), 415, 'E_MEDIA_TYPE');
  // A body over the limit, and an image whose header claims too many pixels.
  assertError(
    await post(score, new Uint8Array(10_000), 'image/png'),
    413,
    'E_TOO_LARGE',
    /4096 bytes/,
  );
  assertError(
    await post(score, claimedSizePng(2000, 1000), 'image/png'),
    413,
    'E_TOO_LARGE',
    /2000 x 1000/,
  );
  // An unknown route.
  const missing = await fetch(`${url}/nowhere`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'E_NO_ROUTE');

  const after = await post(score, greyPng(8, 8, 255), 'image/png');
  assert.equal(after.status, 200);
  assert.equal((after.json as { score: number }).score, 1);
});

test('POST /score/batch scores file parts in order and reports bad ones in place', async (t) => {
  const { url } = await fakeServer(t, {}, { limits: { batchImages: 3 } });
  const form = new FormData();
  form.append('image', blob(greyPng(4, 4, 0)), 'black.png');
  form.append('image', blob('not an image'), 'text.png');
  form.append('image', blob(greyPng(4, 4, 255)), 'white.png');
  const answer = await post(`${url}/score/batch`, form);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  const [black, text, white] = answer.json as Array<Record<string, unknown>>;
  assert.deepEqual([black?.path, black?.score, black?.isAnomaly], ['black.png', 0, false]);
  assert.deepEqual([text?.path, text?.code], ['text.png', 'E_FORMAT']);
  assert.deepEqual([white?.path, white?.score, white?.isAnomaly], ['white.png', 1, true]);

  // Too many images, none, a text field, and a raw body.
  const many = new FormData();
  for (let i = 0; i < 4; i++) many.append('image', blob(greyPng(2, 2, i)), `${i}.png`);
  assertError(await post(`${url}/score/batch`, many), 413, 'E_TOO_LARGE', /3 images/);
  const field = new FormData();
  field.append('note', 'hello');
  assertError(await post(`${url}/score/batch`, field), 400, 'E_USAGE', /'note' is not a file/);
  assertError(await post(`${url}/score/batch`, greyPng(2, 2, 0), 'image/png'), 415, 'E_MEDIA_TYPE');
});

test('POST /map answers the anomaly map as a PNG, again and again', async (t) => {
  const { url } = await fakeServer(t);
  for (const level of [90, 91, 92]) {
    const response = await fetch(`${url}/map`, {
      method: 'POST',
      body: blob(greyPng(3, 2, level)),
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/png');
    const map = decodePng(new Uint8Array(await response.arrayBuffer()));
    assert.deepEqual([map.width, map.height, map.channels], [3, 2, 3]);
    assert.deepEqual([...map.data.subarray(0, 3)], [level, 0, 0]);
  }
});

test('a full queue answers 503 E_BUSY with Retry-After', async (t) => {
  const { url } = await fakeServer(t, { delayMs: 1500 }, { limits: { queue: 2 } });
  // One runs, two wait, the other three are refused.
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => post(`${url}/score`, greyPng(2, 2, 0), 'image/png')),
  );
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 503, 503, 503]);
  for (const answer of answers.filter((a) => a.status === 503)) {
    assertError(answer, 503, 'E_BUSY', /2 jobs already waiting/);
    assert.equal(answer.headers.get('retry-after'), '1');
  }
});

test('a worker that crashes fails its request with 500 and is replaced', async (t) => {
  const events: string[] = [];
  const { url } = await fakeServer(
    t,
    { crashOnWidth: 13 },
    { onEvent: (e) => events.push(e.type) },
  );
  const crash = await post(`${url}/score`, greyPng(13, 1, 0), 'image/png');
  assertError(crash, 500, 'E_WORKER', /stopped/);
  const after = await post(`${url}/score`, greyPng(4, 4, 255), 'image/png');
  assert.equal(after.status, 200);
  assert.deepEqual(events, ['workerExited', 'workerReady']);
});

test('a scorer that throws gives 500 E_INTERNAL, logged as an event, and serving goes on', async (t) => {
  const events: string[] = [];
  const onEvent = (e: { type: string; message?: string }) => events.push(`${e.type} ${e.message}`);
  const { url } = await fakeServer(t, { throwOnWidth: 15 }, { onEvent });
  assertError(
    await post(`${url}/score`, greyPng(15, 1, 0), 'image/png'),
    500,
    'E_INTERNAL',
    /a bug/,
  );
  assert.equal((await post(`${url}/score`, greyPng(4, 4, 0), 'image/png')).status, 200);
  assert.equal(events.length, 1);
  assert.match(events[0] ?? '', /^internalError .*fake: a bug in the scorer/);
});

test('a job past the time limit fails with 504 and its worker is replaced', async (t) => {
  const { url } = await fakeServer(t, { hangOnWidth: 14 }, { limits: { jobTimeoutMs: 300 } });
  const started = performance.now();
  assertError(await post(`${url}/score`, greyPng(14, 1, 0), 'image/png'), 504, 'E_TIMEOUT');
  assert.ok(performance.now() - started < 5000);
  assert.equal((await post(`${url}/score`, greyPng(4, 4, 0), 'image/png')).status, 200);
});

test('close finishes requests in flight, then stops listening', async (t) => {
  const { server, url } = await fakeServer(t, { delayMs: 500 });
  const inFlight = post(`${url}/score`, greyPng(4, 4, 128), 'image/png');
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  socket.write('POST /score HTTP/1.1\r\nHost: localhost\r\n');
  const lateAnswer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closed = server.close();

  // Meanwhile, a request whose headers were half sent before close gets 503 E_CLOSING.
  socket.write('Content-Type: image/png\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  const late = await lateAnswer;
  assert.match(late, /^HTTP\/1\.1 503 /);
  assert.match(late, /"code":"E_CLOSING"/);

  const answer = await inFlight;
  assert.equal(answer.status, 200);
  await closed;
  await assert.rejects(fetch(`${url}/health`), TypeError);
});

test('close with force answers requests in flight with 503 at once', async (t) => {
  const { server, url } = await fakeServer(t, { busyMs: 1500 });
  const inFlight = post(`${url}/score`, greyPng(4, 4, 128), 'image/png');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  const closed = server.close({ force: true });
  assertError(await inFlight, 503, 'E_CLOSING');
  const answeredMs = performance.now() - started;
  assert.ok(answeredMs < 800, `503 after ${answeredMs.toFixed(0)} ms`);
  // The worker is not torn down mid-computation: close resolves once it has stopped.
  await closed;
  assert.ok(performance.now() - started > answeredMs);
});

test('a model that fails to load rejects createServer with its error', async (t) => {
  const modelPath = await fakeModelFile(t, { failLoad: 'weights are missing' });
  await assert.rejects(
    createServer({ modelPath, scorerModule: fakeScorerModule, workers: 2 }),
    (error: unknown) =>
      error instanceof DuiadError &&
      error.code === 'E_MODEL' &&
      /weights are missing/.test(error.message),
  );
  await assert.rejects(
    createServer({ modelPath, scorerModule: '/nonexistent/scorer.js' }),
    (error: unknown) => error instanceof DuiadError && error.code === 'E_NOT_FOUND',
  );
  await assert.rejects(
    createServer({ modelPath, scorerModule: fakeScorerModule, workers: 0 }),
    (error: unknown) => error instanceof DuiadError && error.code === 'E_USAGE',
  );
});

test('encodePng writes what decodePng reads', () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
  const pixels = decodePng(encodePng({ width: 2, height: 3, channels: 4, data }));
  assert.deepEqual([pixels.width, pixels.height, pixels.channels], [2, 3, 4]);
  assert.deepEqual([...pixels.data], [...data]);
});

test('by default the server loads models through the compiled detect module', () => {
  // This file is dist/test/serve/server.test.js; the detect module is dist/src/detect/index.js.
  const here = fileURLToPath(new URL('.', import.meta.url));
  assert.equal(defaultScorerModule, join(here, '..', '..', 'src', 'detect', 'index.js'));
});

test('a malformed multipart batch gets 400 E_FORMAT, not 500', async (t) => {
  const { url } = await fakeServer(t);
  const batch = `${url}/score/batch`;
  // No boundary; a boundary the body never uses; a part cut off before the closing boundary.
  assertError(await post(batch, 'abc', 'multipart/form-data'), 400, 'E_FORMAT', /multipart/);
  assertError(
    await post(batch, 'no parts here', 'multipart/form-data; boundary=XX'),
    400,
    'E_FORMAT',
  );
  const cut = '--XX\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\n\r\nabc';
  assertError(await post(batch, cut, 'multipart/form-data; boundary=XX'), 400, 'E_FORMAT');
  // A file name longer than 256 characters is refused, as `?name=` is.
  const form = new FormData();
  form.append('f', blob(greyPng(4, 4, 1)), 'n'.repeat(300));
  assertError(await post(batch, form), 400, 'E_USAGE', /longer than 256/);
  // And the server goes on serving.
  const answer = await post(`${url}/score`, greyPng(4, 4, 128), 'image/png');
  assert.equal(answer.status, 200);
});

test('close with force does not wait for an upload that stalls', async (t) => {
  const { server, url } = await fakeServer(t);
  const { port } = new URL(url);
  // Headers that promise 100,000 bytes, then three bytes and silence.
  const socket = connect(Number(port), '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\nabc',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  await server.close({ force: true });
  const ms = performance.now() - started;
  assert.ok(ms < 3000, `forced close took ${ms.toFixed(0)} ms with a stalled upload`);
});
