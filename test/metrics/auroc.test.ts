import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueError } from '../../src/errors.js';
import { auroc } from '../../src/metrics/index.js';
import { seededRandom } from './random.js';

/** AUROC by definition: over all (anomaly, normal) pairs, wins count 1 and ties 1/2. O(n²). */
function bruteForceAuroc(scores: number[], isAnomaly: number[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((a, i) => {
    if (isAnomaly[i] !== 1) return;
    scores.forEach((b, j) => {
      if (isAnomaly[j] !== 0) return;
      pairs += 1;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

test('auroc: hand-worked example without ties', () => {
  // Anomalies 0.35 and 0.8 against normals 0.1 and 0.4: 0.35 beats 0.1 only, 0.8 beats both,
  // so 3 of 4 pairs are ordered right.
  assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
});

test('auroc: ties count one half', () => {
  // Anomalies 0.5, 0.9; normals 0.2, 0.5: 0.5>0.2 (1), 0.5=0.5 (1/2), 0.9 beats both (2): 3.5/4.
  assert.equal(auroc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1]), 0.875);
  // Anomalies 1, 2, 3; normals 1, 2: 1 ties 1 (1/2); 2 beats 1, ties 2 (3/2); 3 beats both (2).
  assert.equal(auroc([1, 1, 2, 2, 3], [0, 1, 0, 1, 1]), 4 / 6);
});

test('auroc: all scores tied gives 0.5', () => {
  assert.equal(auroc([0.3, 0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1, 1]), 0.5);
});

test('auroc: perfect and reversed rankings give 1 and 0', () => {
  assert.equal(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auroc([0.8, 0.9, 0.1, 0.2], [0, 0, 1, 1]), 0);
});

test('auroc: accepts typed arrays and negative scores', () => {
  const scores = Float32Array.from([-3, -1, -2, 5]);
  assert.equal(auroc(scores, Uint8Array.from([0, 0, 1, 1])), 0.75);
});

test('auroc: matches a brute-force pair count on random data, with and without ties', () => {
  const random = seededRandom(20240611);
  for (const [n, levels] of [
    [50, 0],
    [301, 0],
    [400, 7],
    [1000, 30],
  ] as const) {
    // levels > 0 rounds scores onto that many values, so ties are common.
    const scores = Array.from({ length: n }, () => {
      const x = random() * 10 - 5;
      return levels > 0 ? Math.round(x * (levels / 10)) : x;
    });
    const isAnomaly = Array.from({ length: n }, (_, i) => (i < 3 ? i % 2 : random() < 0.3 ? 1 : 0));
    const expected = bruteForceAuroc(scores, isAnomaly);
    assert.ok(Math.abs(auroc(scores, isAnomaly) - expected) < 1e-12, `n=${n} levels=${levels}`);
  }
});

test('auroc: bad input throws ValueError naming the problem', () => {
  const expectValueError = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ValueError);
      assert.equal(error.code, 'E_VALUE');
      assert.match(error.message, pattern);
      return true;
    });
  expectValueError(
    () => auroc([1, 2, 3], [0, 1]),
    /^auroc: scores has 3 entries but isAnomaly has 2/,
  );
  expectValueError(() => auroc([1, 2, NaN, 4], [0, 1, 0, 1]), /score at index 2 is NaN/);
  expectValueError(() => auroc([1, Infinity], [0, 1]), /score at index 1 is Infinity/);
  expectValueError(
    () => auroc([1, 2, 3], [0, 2, 1]),
    /isAnomaly at index 1 is 2 \(expected 0 or 1\)/,
  );
  expectValueError(() => auroc([1, 2, 3], [1, 1, 1]), /got 3 anomalous and 0 normal/);
  expectValueError(() => auroc([1, 2], [0, 0]), /got 0 anomalous and 2 normal/);
  expectValueError(() => auroc([], []), /needs both anomalous and normal/);
});
