/**
 * The baselines on generated images: Deep SVDD and the rotation-prediction detector each
 * separate an obvious anomaly from the normal pattern, and reject bad configurations; the
 * combined kNN-and-rotation score is what it says.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { ModelError, ValueError } from '../../src/errors.js';
import { resolveDeepSvddConfig } from '../../src/methods/deep-svdd/config.js';
import { fitDeepSvdd } from '../../src/methods/deep-svdd/train.js';
import { resolveDuiadConfig } from '../../src/methods/duiad/config.js';
import { loadDuiadModel } from '../../src/methods/duiad/model.js';
import { rotationScores } from '../../src/methods/duiad/rotation-score.js';
import { fitDuiad } from '../../src/methods/duiad/train.js';
import { knnScores } from '../../src/methods/knn.js';
import { methods } from '../../src/methods/registry.js';
import { auroc } from '../../src/metrics/index.js';
import {
  decodeSafetensors,
  dispose,
  encodeSafetensors,
  liveTensors,
} from '../../src/torch/index.js';
import { tempDir } from '../helpers/data.js';
import { concatImages, syntheticImages } from '../helpers/synthetic.js';

const labels = (normal: number, anomalous: number) =>
  Uint8Array.from({ length: normal + anomalous }, (_, i) => (i < normal ? 0 : 1));

test('deep-svdd: noise lies farther from the centre than the normal pattern', async () => {
  const before = liveTensors();
  const model = await fitDeepSvdd(syntheticImages(128, 'square', 1), {
    epochs: 5,
    batchSize: 32,
    seed: 2,
  });
  const scores = model.score(
    concatImages(syntheticImages(40, 'square', 2), syntheticImages(40, 'noise', 3)),
  );
  assert.equal(scores.length, 80);
  assert.ok(scores.every(Number.isFinite));
  const value = auroc(scores, labels(40, 40));
  assert.ok(value > 0.9, `AUROC ${value}`);
  model.dispose();
  assert.equal(liveTensors(), before, 'deep-svdd leaked tensors');
});

test('deep-svdd: the centre has no coordinate closer to 0 than 0.1', async () => {
  const model = await fitDeepSvdd(syntheticImages(64, 'square', 4), { epochs: 1, batchSize: 32 });
  const centre = model.centre.toFloat32();
  assert.equal(centre.length, 128);
  assert.ok(
    centre.every((c) => Math.abs(c) >= 0.1 - 1e-6),
    'a centre coordinate is near 0',
  );
  model.dispose();
});

test('deep-svdd: bad configurations are refused naming the field', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ epochs: 0 }, /deep-svdd: epochs must be an integer/],
    [{ lr: Number.NaN }, /deep-svdd: lr must be a number/],
    [{ widths: [32, 64] }, /widths must list 3 stages/],
    [{ features: 2.5 }, /features must be an integer/],
  ];
  for (const [partial, message] of bad) {
    assert.throws(
      () => resolveDeepSvddConfig(partial),
      (e: unknown) => e instanceof ValueError && message.test(e.message),
    );
  }
});

test('rotnet: the rotation classifier is unsure of noise, sure of the normal pattern', async () => {
  const rotnet = methods['rotnet'];
  assert.ok(rotnet);
  const model = await rotnet.fit(syntheticImages(128, 'ell', 5), {
    seed: 1,
    duiad: { epochs: 6, batchSize: 32, lr: 0.05 },
  });
  const scores = model.score(
    concatImages(syntheticImages(40, 'ell', 6), syntheticImages(40, 'noise', 7)),
  );
  // Mean over rotations of −log p(correct rotation): at most ln 4 on average for a classifier
  // that learned anything, and positive.
  assert.ok(scores.every((s) => Number.isFinite(s) && s >= 0));
  const value = auroc(scores, labels(40, 40));
  assert.ok(value > 0.9, `AUROC ${value}`);
  model.dispose();
});

test("score 'rotation' needs the rotation classifier", () => {
  assert.equal(resolveDuiadConfig({ mi: 'rotation', score: 'rotation' }).score, 'rotation');
  assert.throws(
    () => resolveDuiadConfig({ mi: 'infonce', score: 'rotation' }),
    (e: unknown) => e instanceof ValueError && /needs the rotation classifier/.test(e.message),
  );
  assert.throws(
    () => resolveDuiadConfig({ score: 'mahalanobis' as 'knn' }),
    (e: unknown) => e instanceof ValueError && /unknown score 'mahalanobis'/.test(e.message),
  );
});

test('combined score: the standardised sum of the kNN and rotation scores, saved and loaded', async (t) => {
  const dir = await tempDir(t);
  const before = liveTensors();
  const train = syntheticImages(96, 'ell', 5);
  const model = await fitDuiad(train, { epochs: 2, batchSize: 32, seed: 2, score: 'combined' });
  const stats = model.scoreStats;
  assert.ok(stats);
  assert.ok(Object.values(stats).every(Number.isFinite));
  assert.ok(stats.knnStd > 0 && stats.rotationStd > 0);

  const test = concatImages(syntheticImages(20, 'ell', 6), syntheticImages(20, 'noise', 7));
  const combined = model.score(test);
  const f = model.features(test);
  const knn = knnScores(f, model.bank, model.config.k);
  f.dispose();
  const rotation = rotationScores(model.net, test, model.prep);
  combined.forEach((v, i) => {
    const expected =
      ((knn[i] as number) - stats.knnMean) / stats.knnStd +
      ((rotation[i] as number) - stats.rotationMean) / stats.rotationStd;
    assert.ok(Math.abs(v - expected) < 1e-4, `image ${i}: ${v} vs ${expected}`);
  });
  assert.ok(auroc(combined, labels(20, 20)) > 0.9);

  const path = join(dir, 'combined.safetensors');
  await model.save(path);
  model.dispose();
  const loaded = await loadDuiadModel(path);
  assert.deepEqual(loaded.model.scoreStats, stats);
  assert.deepEqual([...loaded.model.score(test)], [...combined]);
  loaded.model.dispose();

  // Without its statistics (an older file, no checksum), a combined model is refused.
  const { tensors, metadata } = decodeSafetensors(await readFile(path));
  const meta = JSON.parse(metadata['duiad'] ?? '{}') as Record<string, unknown>;
  delete meta['scoreStats'];
  meta['formatVersion'] = 2;
  const stripped = join(dir, 'stripped.safetensors');
  await writeFile(stripped, encodeSafetensors(tensors, { duiad: JSON.stringify(meta) }));
  dispose([...tensors.values()]);
  await assert.rejects(
    loadDuiadModel(stripped),
    (e: unknown) =>
      e instanceof ModelError && /invalid score statistics \(missing\)/.test(e.message),
  );
  assert.equal(liveTensors(), before);

  assert.throws(
    () => resolveDuiadConfig({ mi: 'infonce', score: 'combined' }),
    (e: unknown) =>
      e instanceof ValueError && /'combined' needs the rotation classifier/.test(e.message),
  );
});
