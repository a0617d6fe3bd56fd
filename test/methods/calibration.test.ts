/**
 * Conformal calibration against values worked out by hand: the threshold at a target
 * false-positive rate, p-values, ties, the fewest held-out images, and the seeded split.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ValueError } from '../../src/errors.js';
import {
  calibrate,
  calibrationSplit,
  checkCalibration,
  exceeds,
  minCalibrationImages,
  pValue,
} from '../../src/methods/calibration.js';
import { seeded } from '../helpers/images.js';

test('threshold and p-values of five held-out scores, by hand', () => {
  // n = 5, fpr 0.2: m = ⌊6 · 0.2⌋ = 1, so the threshold is the 5th smallest score.
  const c = calibrate([0.5, 0.1, 0.4, 0.2, 0.3], 0.2);
  assert.deepEqual(c.scores, [0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.equal(c.threshold, 0.5);
  // p = (1 + #{cal ≥ s}) / 6.
  assert.equal(pValue(c, 0.55), 1 / 6);
  assert.equal(pValue(c, 0.5), 2 / 6);
  assert.equal(pValue(c, 0.3), 4 / 6);
  assert.equal(pValue(c, 0.25), 4 / 6);
  assert.equal(pValue(c, 0.05), 1);

  // fpr 0.34: m = ⌊2.04⌋ = 2, threshold the 4th smallest (0.4).
  const wider = calibrate([0.5, 0.1, 0.4, 0.2, 0.3], 0.34);
  assert.equal(wider.threshold, 0.4);
  assert.equal(pValue(wider, 0.45), 2 / 6); // ≤ 0.34 and 0.45 > 0.4: anomalous both ways
  assert.equal(pValue(wider, 0.4), 3 / 6); // > 0.34 and not above 0.4: normal both ways
});

test('ties: the threshold sits on a tied score and the p-value counts every tie', () => {
  // n = 5, fpr 0.4: m = ⌊2.4⌋ = 2, threshold the 4th smallest = 2.
  const c = calibrate([2, 1, 1, 2, 1], 0.4);
  assert.equal(c.threshold, 2);
  assert.equal(pValue(c, 2), 3 / 6);
  assert.equal(pValue(c, 1), 1);
  assert.equal(pValue(c, 2.1), 1 / 6);
});

test('a score exceeds the threshold exactly when its p-value is at most fpr', () => {
  const random = seeded(7);
  for (const fpr of [0.05, 0.1, 0.2, 0.25, 0.5]) {
    for (const n of [minCalibrationImages(fpr), 20, 57, 200]) {
      // Scores on a coarse grid, so that ties are frequent.
      const scores = Array.from({ length: n }, () => Math.round(random() * 20) / 20);
      const c = calibrate(scores, fpr);
      for (let s = -0.05; s <= 1.1; s += 0.025) {
        assert.equal(
          exceeds(s, c.threshold),
          pValue(c, s) <= fpr + 1e-12,
          `fpr ${fpr}, n ${n}, s ${s}`,
        );
      }
    }
  }
});

test('the fewest held-out images for a target fpr: ⌈1/fpr⌉ − 1', () => {
  assert.equal(minCalibrationImages(0.05), 19);
  assert.equal(minCalibrationImages(0.1), 9);
  assert.equal(minCalibrationImages(0.3), 3);
  // 19 scores at 0.05: (19 + 1) · 0.05 = 1, so the threshold is the largest score.
  const scores = Array.from({ length: 19 }, (_, i) => i);
  assert.equal(calibrate(scores, 0.05).threshold, 18);
  assert.throws(
    () => calibrate(scores.slice(1), 0.05),
    (e: unknown) =>
      e instanceof ValueError &&
      e.code === 'E_VALUE' &&
      /18 held-out normal images cannot set a threshold at fpr 0.05 \(needs at least 19\)/.test(
        e.message,
      ),
  );
  assert.throws(() => calibrate([1, 2], 0), /fpr must be a number in \(0, 1\) \(got 0\)/);
  assert.throws(() => calibrate([1, NaN, 3, 4], 0.5), /NaN or infinite/);
});

test('the held-out split is seeded, disjoint and complete', () => {
  const a = calibrationSplit(10, 0.25, 3);
  assert.equal(a.calibration.length, 3); // round(2.5)
  assert.deepEqual(
    [...a.calibration, ...a.fit].sort((x, y) => x - y),
    [...Array(10).keys()],
  );
  assert.deepEqual(
    a.calibration,
    [...a.calibration].sort((x, y) => x - y),
  );
  assert.deepEqual(calibrationSplit(10, 0.25, 3), a);
  const others = [4, 5, 6, 7].map((seed) => calibrationSplit(10, 0.25, seed).calibration.join());
  assert.ok(
    others.some((o) => o !== a.calibration.join()),
    'seeds change the split',
  );
  assert.equal(calibrationSplit(10, 0.01, 0).calibration.length, 1);
  assert.throws(
    () => calibrationSplit(3, 0.5, 0),
    (e: unknown) =>
      e instanceof ValueError && /leave 1 to fit on after holding out 2/.test(e.message),
  );
  assert.throws(() => calibrationSplit(10, 1, 0), /share must be a number in \(0, 1\) \(got 1\)/);
});

test('checkCalibration accepts what calibrate makes and refuses edited records', () => {
  const c = calibrate([0.5, 0.1, 0.4, 0.2, 0.3], 0.2);
  assert.deepEqual(checkCalibration(JSON.parse(JSON.stringify(c))), c);
  assert.throws(
    () => checkCalibration({ ...c, threshold: 0.4 }),
    /does not follow from its scores/,
  );
  assert.throws(() => checkCalibration({ ...c, scores: [0.2, 0.1, 0.3, 0.4, 0.5] }), /not sorted/);
  assert.throws(() => checkCalibration({ ...c, scores: [0.1, '0.2'] }), /not a list of finite/);
  assert.throws(() => checkCalibration({ ...c, fpr: 2 }), /fpr must be in \(0, 1\)/);
  assert.throws(() => checkCalibration(null), /not an object/);
});

test('scores that differ by float rounding (1e-7) get the same verdict and p-value', () => {
  const c = calibrate([0.13820350170135498, 0.1, 0.12, 0.11, 0.09], 0.2);
  const t = c.threshold;
  assert.equal(t, 0.13820350170135498);
  // The same image scored in another batch: a few units in the 7th decimal either way.
  for (const jitter of [-2e-7, -1e-7, 0, 1e-7, 2e-7]) {
    assert.equal(exceeds(t + jitter, t), false, `jitter ${jitter}`);
    assert.equal(pValue(c, t + jitter), 2 / 6, `jitter ${jitter}`);
  }
  assert.equal(exceeds(t + 1e-5, t), true);
  assert.equal(pValue(c, t + 1e-5), 1 / 6);
  // Large scores (the rotation score is a negative log-likelihood) get a relative tolerance.
  assert.equal(exceeds(50 + 2e-5, 50), false);
  assert.equal(exceeds(50.001, 50), true);
});
