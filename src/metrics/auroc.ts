/**
 * Area under the ROC curve, computed exactly from ranks.
 */

import { checkInputs, decreasingOrder } from './inputs.js';

/**
 * AUROC of anomaly scores (higher = more anomalous) against labels (1 = anomaly, 0 = normal):
 * the probability that a random anomaly scores above a random normal sample, ties counting
 * one half. Exact (the Mann–Whitney U statistic with midranks) and O(n log n); equals the
 * trapezoidal area under `rocCurve`. Throws a ValueError on a length mismatch, a score that
 * is not finite, a label other than 0/1, or a single class.
 */
export function auroc(scores: ArrayLike<number>, isAnomaly: ArrayLike<number>): number {
  const inputs = checkInputs(scores, isAnomaly, 'auroc');
  const { positives, negatives } = inputs;
  const rankSum = positiveRankSum(inputs.scores, inputs.isAnomaly);
  const u = rankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

/**
 * Sum of the ascending ranks (1 = lowest score) of the anomalies, tied scores sharing the
 * mean of their ranks. Half-integers well below 2^53, so the sum is exact.
 */
function positiveRankSum(scores: Float64Array, isAnomaly: Uint8Array): number {
  const order = decreasingOrder(scores);
  const n = order.length;
  let sum = 0;
  let start = 0;
  while (start < n) {
    const value = scores[order[start] ?? 0];
    let end = start;
    let anomalies = 0;
    while (end < n && scores[order[end] ?? 0] === value) {
      anomalies += isAnomaly[order[end] ?? 0] ?? 0;
      end += 1;
    }
    // Positions start..end-1 from the top hold ascending ranks n-end+1 .. n-start.
    const midrank = (2 * n - start - end + 1) / 2;
    sum += anomalies * midrank;
    start = end;
  }
  return sum;
}
