/**
 * The calibrated detector on generated images (normal: smooth blobs; anomalies: stripes):
 * fit from a folder, score files and encoded bytes, anomaly maps, the model file round trip,
 * refusal of bad model files, and loading in a worker thread. One tiny fit serves all tests.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';

import sharp from 'sharp';

import { decodeImage } from '../../src/data/folder.js';
import { type Detector, fit, load, loadScorer, score } from '../../src/detect/index.js';
import { type ScoredImage, isScored } from '../../src/detect/types.js';
import { FormatError, ModelError, NotFoundError, UsageError } from '../../src/errors.js';
import { pValue } from '../../src/methods/calibration.js';
import { fitDuiad } from '../../src/methods/duiad/train.js';
import { liveTensors } from '../../src/torch/index.js';
import { blob, encode, hugePngHeader, seeded, stripes, writeImages } from '../helpers/images.js';

const input = { channels: 3, height: 16, width: 16, resize: 'fill' } as const;
let dir = '';
let detector: Detector;
let modelFile = '';
let normals: string[] = [];
let anomalies: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'duiad-detect-'));
  await mkdir(join(dir, 'train'));
  await mkdir(join(dir, 'new'));
  await writeImages(join(dir, 'train'), { name: 'n', count: 48, size: 24, make: blob, seed: 1 });
  await writeFile(join(dir, 'train', 'readme.png'), 'not an image\n');
  const newDir = join(dir, 'new');
  normals = await writeImages(newDir, { name: 'n', count: 6, size: 30, make: blob, seed: 2 });
  anomalies = await writeImages(newDir, { name: 's', count: 6, size: 20, make: stripes, seed: 3 });
  detector = await fit(join(dir, 'train'), {
    fpr: 0.25,
    input,
    duiad: { epochs: 1, batchSize: 16, encoder: 'tiny', seed: 1 },
  });
  modelFile = join(dir, 'model.safetensors');
  await detector.save(modelFile);
});

after(async () => {
  detector.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('fit holds out a seeded share, calibrates, and lists the skipped file', () => {
  assert.deepEqual(
    detector.skipped.map((f) => [f.path, f.code]),
    [[join(dir, 'train', 'readme.png'), 'E_FORMAT']],
  );
  // 48 images, share 0.1: round(4.8) = 5 held out; fpr 0.25: m = ⌊6 · 0.25⌋ = 1, so the
  // threshold is the largest held-out score.
  const { calibration, info } = detector;
  assert.equal(calibration.scores.length, 5);
  assert.equal(calibration.threshold, calibration.scores[4]);
  assert.deepEqual(
    { ...info, versions: undefined },
    {
      method: 'duiad',
      channels: 3,
      height: 16,
      width: 16,
      threshold: calibration.threshold,
      fpr: 0.25,
      calibrationImages: 5,
      versions: undefined,
    },
  );
  assert.ok(info.versions['sharp'] && info.versions['duiad'] && info.versions['libtorch']);
});

test('stripes score above every blob, and each verdict follows from the calibration', async () => {
  const results = await score(detector, [join(dir, 'new')]);
  assert.deepEqual(
    results.map((r) => r.path),
    [...normals, ...anomalies],
  );
  const scored = results.filter(isScored);
  assert.equal(scored.length, 12);
  for (const r of scored) {
    assert.equal(r.threshold, detector.calibration.threshold);
    assert.equal(r.isAnomaly, r.score > r.threshold);
    assert.equal(r.pValue, pValue(detector.calibration, r.score));
  }
  const normalMax = Math.max(...scored.slice(0, 6).map((r) => r.score));
  const stripeMin = Math.min(...scored.slice(6).map((r) => r.score));
  assert.ok(stripeMin > normalMax, `stripes ${stripeMin} vs blobs ${normalMax}`);
  assert.ok(scored.slice(6).every((r) => r.isAnomaly && r.pValue === 1 / 6));
});

test('scoreEncoded keeps the order and reports bad images in place', async () => {
  const good = await readFile(anomalies[0] as string);
  const results = await detector.scoreEncoded([
    { path: 'text.png', data: Buffer.from('hello') },
    { path: 'good.png', data: good },
    { path: 'bomb.png', data: hugePngHeader(20_000, 20_000) },
    { path: 'empty.jpg', data: new Uint8Array(0) },
    { path: 'cut.png', data: good.subarray(0, 50) },
  ]);
  assert.deepEqual(
    results.map((r) => [r.path, isScored(r) ? 'scored' : r.code]),
    [
      ['text.png', 'E_FORMAT'],
      ['good.png', 'scored'],
      ['bomb.png', 'E_VALUE'],
      ['empty.jpg', 'E_FORMAT'],
      ['cut.png', 'E_FORMAT'],
    ],
  );
  const [fromFile] = await score(detector, [anomalies[0] as string]);
  assert.equal((results[1] as ScoredImage).score, (fromFile as ScoredImage).score);
  for (const r of results) if (!isScored(r)) assert.ok(r.error.includes(r.path), r.error);
  assert.deepEqual(await detector.scoreEncoded([]), []);
});

test('anomaly maps are PNG overlays of the input size, stronger on a pasted stripe patch', async () => {
  // A blob with stripes pasted over its top-left quarter.
  const rgb = blob(16, seeded(9));
  const bars = stripes(16, seeded(10));
  for (let y = 0; y < 8; y++) rgb.set(bars.subarray(y * 48, y * 48 + 24), y * 48);
  const png = await encode(rgb, 16, 'png');
  const [map, bad] = await detector.mapEncoded([
    { path: 'pasted.png', data: png },
    { path: 'bad.png', data: Buffer.from('x') },
  ]);
  assert.ok(map && 'png' in map && bad && 'code' in bad);
  const meta = await sharp(map.png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 16, 16, 3]);

  const pixels = await decodeImage(png, 'pasted.png', { input });
  const [raw] = detector.occlusion({
    images: pixels,
    labels: new Int32Array(1),
    count: 1,
    ...input,
  });
  let inside = 0;
  let outside = 0;
  raw?.forEach((v, p) => (p % 16 < 8 && p < 128 ? (inside += v / 64) : (outside += v / 192)));
  assert.ok(inside > outside, `map inside the patch ${inside} vs outside ${outside}`);
});

test('the model file round trip scores the same and frees every tensor', async () => {
  const live = liveTensors();
  const loaded = await load(modelFile);
  assert.deepEqual(loaded.calibration, detector.calibration);
  assert.deepEqual(loaded.mapScale, detector.mapScale);
  assert.deepEqual(loaded.input, detector.input);
  const a = await score(loaded, [join(dir, 'new')]);
  const b = await score(detector, [join(dir, 'new')]);
  assert.deepEqual(a, b);
  loaded.dispose();
  assert.equal(liveTensors(), live);
});

/** Asserts `promise` rejects with `type`, whose message names `path` and matches `pattern`. */
async function refuses(
  promise: Promise<unknown>,
  type: typeof NotFoundError | typeof FormatError | typeof ModelError,
  path: string,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof type, String(e));
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('bad model files are refused with typed errors naming the file', async () => {
  const missing = join(dir, 'nowhere.safetensors');
  await refuses(loadScorer(missing), NotFoundError, missing, /does not exist/);
  await refuses(loadScorer(dir), NotFoundError, dir, /is not a model file/);

  const bytes = await readFile(modelFile);
  const cut = join(dir, 'cut.safetensors');
  await writeFile(cut, bytes.subarray(0, bytes.length - 100));
  await refuses(loadScorer(cut), FormatError, cut, /safetensors/);

  // The threshold edited in the metadata no longer follows from the stored scores.
  const text = bytes.toString('latin1');
  const number = /\\"threshold\\":[-+0-9.e]+/;
  assert.match(text, number);
  const edited = Buffer.from(text.replace(number, '\\"threshold\\":9'), 'latin1');
  edited.writeBigUInt64LE(edited.readBigUInt64LE(0) + BigInt(edited.length - bytes.length), 0);
  const doctored = join(dir, 'doctored.safetensors');
  await writeFile(doctored, edited);
  await refuses(loadScorer(doctored), ModelError, doctored, /threshold 9 does not follow/);

  // A model fitted without calibration cannot score images.
  const plain = await fitDuiad(
    { images: new Uint8Array(8 * 3 * 16 * 16), labels: new Int32Array(8), count: 8, ...input },
    { epochs: 1, batchSize: 4 },
  );
  const uncalibrated = join(dir, 'plain.safetensors');
  await plain.save(uncalibrated);
  plain.dispose();
  await refuses(loadScorer(uncalibrated), ModelError, uncalibrated, /has no calibration/);
});

test('loadScorer works inside a worker thread, from the built module', async () => {
  const module = new URL('../../src/detect/index.js', import.meta.url).href;
  const source = `
    const { parentPort, workerData } = await import('node:worker_threads');
    const { readFile } = await import('node:fs/promises');
    const { loadScorer } = await import(workerData.module);
    const scorer = await loadScorer(workerData.model);
    const data = await readFile(workerData.image);
    const results = await scorer.scoreEncoded([{ path: workerData.image, data }]);
    scorer.dispose();
    parentPort.postMessage({ info: scorer.info, results });
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
    workerData: { module, model: modelFile, image: anomalies[1] },
  });
  const message = await new Promise<{ results: ScoredImage[]; info: unknown }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  await worker.terminate();
  const [expected] = await score(detector, [anomalies[1] as string]);
  assert.deepEqual(message.results, [expected]);
  assert.deepEqual(message.info, detector.info);
});

test('the library API refuses arguments of the wrong kind with a UsageError naming them', async () => {
  const usage = (pattern: RegExp) => (e: unknown) =>
    e instanceof UsageError && e.code === 'E_USAGE' && pattern.test(e.message);
  await assert.rejects(fit(null as unknown as string), usage(/fit: give a folder path .*got null/));
  await assert.rejects(fit(42 as unknown as string), usage(/got number/));
  await assert.rejects(fit(dir, null as unknown as object), usage(/options must be an object/));
  await assert.rejects(
    score(detector, 'a.png' as unknown as string[]),
    usage(/score: give an array of image paths .*the string 'a\.png'/),
  );
  await assert.rejects(score(detector, [1] as unknown as string[]), usage(/paths must be strings/));
  await assert.rejects(score({} as Detector, []), usage(/fitted or loaded detector/));
});
