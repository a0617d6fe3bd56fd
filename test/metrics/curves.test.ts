import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueError } from '../../src/errors.js';
import { aupr, auroc, fprAtTpr, rocCurve } from '../../src/metrics/index.js';
import { seededRandom } from './random.js';

const close = (actual: number, expected: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, message ?? `${actual} != ${expected}`);

test('rocCurve: one point per distinct score, from (0, 0) to (1, 1)', () => {
  // Descending: 0.8 (anomaly), 0.4 (normal), 0.35 (anomaly), 0.1 (normal).
  assert.deepEqual(rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 0, tpr: 0.5, threshold: 0.8 },
    { fpr: 0.5, tpr: 0.5, threshold: 0.4 },
    { fpr: 0.5, tpr: 1, threshold: 0.35 },
    { fpr: 1, tpr: 1, threshold: 0.1 },
  ]);
});

test('rocCurve: tied scores make a single diagonal step', () => {
  assert.deepEqual(rocCurve([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 0, tpr: 0.5, threshold: 0.9 },
    { fpr: 0.5, tpr: 1, threshold: 0.5 },
    { fpr: 1, tpr: 1, threshold: 0.1 },
  ]);
});

test('rocCurve: its trapezoidal area equals auroc on random tied data', () => {
  const random = seededRandom(7);
  const scores = Array.from({ length: 500 }, () => Math.floor(random() * 40));
  const isAnomaly = Array.from({ length: 500 }, (_, i) => (i < 2 ? i : random() < 0.4 ? 1 : 0));
  const points = rocCurve(scores, isAnomaly);
  let area = 0;
  for (let k = 1; k < points.length; k++) {
    const [a, b] = [points[k - 1], points[k]];
    if (a === undefined || b === undefined) continue;
    area += ((b.fpr - a.fpr) * (a.tpr + b.tpr)) / 2;
  }
  close(area, auroc(scores, isAnomaly));
});

test('aupr: hand-worked average precision', () => {
  // Descending 0.9 (anomaly): P=1, recall 1/2 -> +1/2; 0.8 (normal): recall unchanged;
  // 0.7 (anomaly): P=2/3, recall +1/2 -> +1/3. Total 5/6.
  close(aupr([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 0]), 5 / 6);
  close(aupr([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
});

test('aupr: tied scores enter together', () => {
  // 0.9 (normal): no recall. The tie at 0.5 holds both anomalies and one normal: flagged
  // together, precision 2/4 at recall 1 -> 0.5. Ordering the tie anomalies-first would give
  // 1/2 * 1/2 + 1/2 * 2/3 = 7/12 instead.
  close(aupr([0.9, 0.5, 0.5, 0.5, 0.1], [0, 1, 1, 0, 0]), 0.5);
  // All tied: precision is the anomaly share.
  close(aupr([1, 1, 1, 1], [1, 0, 0, 0]), 0.25);
});

test('fprAtTpr: hand-worked FPR at 95% TPR', () => {
  // Anomalies 0.2, 0.4, 0.6; normals 0.1, 0.3, 0.5. Catching 95% of 3 anomalies needs all 3,
  // threshold 0.2, which also flags normals 0.3 and 0.5: FPR 2/3.
  close(fprAtTpr([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 0, 1]), 2 / 3);
  // At TPR 1/3 only 0.6 is needed: no normal above it.
  close(fprAtTpr([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 0, 1], 1 / 3), 0);
});

test('fprAtTpr: 20 anomalies, 95% means 19 caught', () => {
  // Anomalies score 10..29; normals 0..9, 10.5, 15.5, 28.5. 19 anomalies (11..29) are caught
  // at threshold 11, with normals 15.5 and 28.5: 2/13. All 20 need threshold 10: 3/13.
  // Half (10: 20..29) need threshold 20: only 28.5, 1/13.
  const anomalies = Array.from({ length: 20 }, (_, i) => 10 + i);
  const normals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5, 15.5, 28.5];
  const scores = [...anomalies, ...normals];
  const isAnomaly = [...anomalies.map(() => 1), ...normals.map(() => 0)];
  close(fprAtTpr(scores, isAnomaly), 2 / 13);
  close(fprAtTpr(scores, isAnomaly, 1), 3 / 13);
  close(fprAtTpr(scores, isAnomaly, 0.5), 1 / 13);
});

test('fprAtTpr: a tie is flagged as a whole', () => {
  // 0.5 holds one anomaly and one normal: reaching TPR 1 flags both, FPR 1/2.
  close(fprAtTpr([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]), 0.5);
});

test('curves: bad input throws ValueError', () => {
  const isValueError = (pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof ValueError);
    assert.equal(error.code, 'E_VALUE');
    assert.match(error.message, pattern);
    return true;
  };
  assert.throws(() => aupr([1, NaN], [0, 1]), isValueError(/^aupr: score at index 1 is NaN/));
  assert.throws(() => rocCurve([1], [0, 1]), isValueError(/^rocCurve: scores has 1 entries/));
  assert.throws(() => fprAtTpr([1, 2], [1, 1]), isValueError(/^fprAtTpr: needs both/));
  assert.throws(() => fprAtTpr([1, 2], [0, 1], 0), isValueError(/tpr is 0 \(expected/));
  assert.throws(() => fprAtTpr([1, 2], [0, 1], 1.5), isValueError(/tpr is 1.5/));
  assert.throws(() => fprAtTpr([1, 2], [0, 1], NaN), isValueError(/tpr is NaN/));
});

test('fprAtTpr: a product that rounds up in floating point does not need one more anomaly', () => {
  // 0.28 * 25 is 7.000000000000001: 7 of 25 anomalies suffice. Anomalies score 1..25,
  // normals 18.5 and 0: threshold 19 catches 7 (19..25) with no normal flagged; needing 8 or
  // 9 (0.36) lowers it below 18.5, flagging one normal of two.
  const anomalies = Array.from({ length: 25 }, (_, i) => i + 1);
  const scores = [...anomalies, 18.5, 0];
  const isAnomaly = [...anomalies.map(() => 1), 0, 0];
  assert.equal(fprAtTpr(scores, isAnomaly, 0.28), 0);
  assert.equal(fprAtTpr(scores, isAnomaly, 0.36), 0.5);
});
