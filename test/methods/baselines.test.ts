/**
 * The baselines on generated images: Deep SVDD and the rotation-prediction detector each
 * separate an obvious anomaly from the normal pattern, and reject bad configurations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ValueError } from '../../src/errors.js';
import { resolveDeepSvddConfig } from '../../src/methods/deep-svdd/config.js';
import { fitDeepSvdd } from '../../src/methods/deep-svdd/train.js';
import { resolveDuiadConfig } from '../../src/methods/duiad/config.js';
import { methods } from '../../src/methods/registry.js';
import { auroc } from '../../src/metrics/index.js';
import { liveTensors } from '../../src/torch/index.js';
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
