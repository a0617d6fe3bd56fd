/**
 * The DUIAD detector on generated images: configuration checks, separation of an obvious
 * anomaly, the model file's round trip and its refusal of bad files and bad inputs.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { ModelError, ShapeError, ValueError } from '../../src/errors.js';
import { resolveDuiadConfig } from '../../src/methods/duiad/config.js';
import { loadDuiadModel } from '../../src/methods/duiad/model.js';
import { fitDuiad } from '../../src/methods/duiad/train.js';
import { auroc } from '../../src/metrics/index.js';
import { dispose, encodeSafetensors, liveTensors, tensor, zeros } from '../../src/torch/index.js';
import { rotateQuarters } from '../../src/methods/duiad/objective.js';
import { tempDir } from '../helpers/data.js';
import { concatImages, syntheticImages } from '../helpers/synthetic.js';

const images = syntheticImages;
const concat = concatImages;

const quick = { epochs: 2, batchSize: 32, encoder: 'tiny' as const, seed: 3 };

test('resolveDuiadConfig fills defaults and names the first bad field', () => {
  assert.equal(resolveDuiadConfig({}).batchSize, 256);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ epochs: 0 }, /epochs must be an integer/],
    [{ beta: Number.NaN }, /beta must be a number/],
    [{ temperature: -1 }, /temperature/],
    [{ entropy: 'shannon' }, /unknown entropy estimator 'shannon'/],
    [{ encoder: 'resnet9000' }, /unknown encoder 'resnet9000'/],
    [{ batchSize: 1.5 }, /batchSize/],
  ];
  for (const [partial, message] of bad) {
    assert.throws(
      () => resolveDuiadConfig(partial),
      (e: unknown) => e instanceof ValueError && message.test(e.message),
    );
  }
});

test('fit separates noise from the normal pattern, and the model file round-trips', async (t) => {
  const before = liveTensors();
  const model = await fitDuiad(images(96, 'square', 1), quick);
  const test = concat(images(40, 'square', 2), images(40, 'noise', 3));
  const isAnomaly = Uint8Array.from({ length: 80 }, (_, i) => (i < 40 ? 0 : 1));
  const scores = model.score(test);
  assert.ok(auroc(scores, isAnomaly) > 0.95, `AUROC ${auroc(scores, isAnomaly)}`);

  // Saved and loaded, the model gives the same scores and keeps what it was told.
  const dir = await tempDir(t);
  const path = join(dir, 'model.safetensors');
  await model.save(path, { note: 'generated' });
  const loaded = await loadDuiadModel(path);
  assert.deepEqual(loaded.metadata.extra, { note: 'generated' });
  assert.equal(loaded.metadata.config.batchSize, 32);
  const again = loaded.model.score(test);
  for (let i = 0; i < scores.length; i++)
    assert.ok(Math.abs((again[i] as number) - (scores[i] as number)) < 1e-5);

  // Images of another size are refused, naming both geometries.
  const wrong = { ...images(2, 'noise', 4), height: 8, width: 32 };
  assert.throws(
    () => loaded.model.score(wrong),
    (e: unknown) => e instanceof ShapeError && /1×8×32.*1×16×16/.test(e.message),
  );
  loaded.model.dispose();
  model.dispose();
  assert.equal(liveTensors(), before);
});

test('loading refuses files that are not duiad models, naming the file', async (t) => {
  const dir = await tempDir(t);
  const cases: [string, Record<string, string>, RegExp][] = [
    ['plain.safetensors', {}, /not a duiad model/],
    ['corrupt.safetensors', { duiad: '{not json' }, /corrupt metadata/],
    [
      'other.safetensors',
      { duiad: JSON.stringify({ format: 'other', method: 'x' }) },
      /expected 'duiad-model\/duiad'/,
    ],
    [
      'future.safetensors',
      { duiad: JSON.stringify({ format: 'duiad-model', method: 'duiad', formatVersion: 99 }) },
      /format version 99/,
    ],
  ];
  const weight = zeros([2, 2]);
  for (const [name, metadata, message] of cases) {
    const path = join(dir, name);
    await writeFile(path, encodeSafetensors(new Map([['w', weight]]), metadata));
    await assert.rejects(
      loadDuiadModel(path),
      (e: unknown) =>
        e instanceof ModelError && message.test(e.message) && e.message.includes(path),
    );
  }
  weight.dispose();
});

test('fit refuses fewer than two images and stops when asked', async () => {
  await assert.rejects(
    fitDuiad(images(1, 'square', 1), quick),
    /at least 2 normal images \(got 1\)/,
  );
  await assert.rejects(
    fitDuiad(images(64, 'square', 1), quick, { shouldStop: () => true }),
    /stopped on request/,
  );
});

test('rotateQuarters turns each quarter of a batch by k right angles and labels it k', () => {
  // Four copies of [[1, 2], [3, 4]]; a counter-clockwise quarter turn gives [[2, 4], [1, 3]],
  // a half turn [[4, 3], [2, 1]], three quarters [[3, 1], [4, 2]].
  const before = liveTensors();
  const x = tensor(
    new Float32Array([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]),
    [4, 1, 2, 2],
  );
  const { images: rotated, labels } = rotateQuarters(x);
  assert.deepEqual(
    Array.from(rotated.toFloat32()),
    [1, 2, 3, 4, 2, 4, 1, 3, 4, 3, 2, 1, 3, 1, 4, 2],
  );
  assert.deepEqual(Array.from(labels.data() as BigInt64Array), [0n, 1n, 2n, 3n]);
  dispose([x, rotated, labels]);
  const wide = zeros([4, 1, 2, 3]);
  assert.throws(
    () => rotateQuarters(wide),
    (e: unknown) => e instanceof ShapeError && /square \(got 2×3\)/.test(e.message),
  );
  wide.dispose();
  assert.equal(liveTensors(), before);
});
