/**
 * Threshold-sweep metrics: ROC points, average precision, FPR at a target TPR.
 *
 * All take anomaly scores (higher = more anomalous) and labels (1 = anomaly, the positive
 * class; 0 = normal). A sample is flagged as an anomaly when its score is >= the threshold,
 * so equal scores are always flagged together.
 */

import { ValueError } from '../errors.js';
import { checkInputs, groupByScore } from './inputs.js';

/** One point of a ROC curve. */
export interface RocPoint {
  /** False-positive rate: the share of normal samples flagged, 0..1. */
  fpr: number;
  /** True-positive rate (recall): the share of anomalies flagged, 0..1. */
  tpr: number;
  /** Flag samples with score >= threshold; `Infinity` for the first point (flag nothing). */
  threshold: number;
}

/**
 * The ROC curve: (0, 0) at threshold Infinity, then one point per distinct score from the
 * highest down, ending at (1, 1). Throws like `auroc`.
 */
export function rocCurve(scores: ArrayLike<number>, isAnomaly: ArrayLike<number>): RocPoint[] {
  const groups = groupByScore(checkInputs(scores, isAnomaly, 'rocCurve'));
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  groups.thresholds.forEach((threshold, k) => {
    const fpr = (groups.falsePositives[k] ?? 0) / groups.negatives;
    const tpr = (groups.truePositives[k] ?? 0) / groups.positives;
    points.push({ fpr, tpr, threshold });
  });
  return points;
}

/**
 * Average precision (area under the precision-recall curve, anomaly = positive):
 * `sum_k (recall_k - recall_{k-1}) * precision_k` over the distinct scores from the highest
 * down, equal scores entering together. Throws like `auroc`.
 */
export function aupr(scores: ArrayLike<number>, isAnomaly: ArrayLike<number>): number {
  const groups = groupByScore(checkInputs(scores, isAnomaly, 'aupr'));
  let sum = 0;
  let previousTruePositives = 0;
  groups.thresholds.forEach((_, k) => {
    const tp = groups.truePositives[k] ?? 0;
    const flagged = tp + (groups.falsePositives[k] ?? 0);
    sum += ((tp - previousTruePositives) / groups.positives) * (tp / flagged);
    previousTruePositives = tp;
  });
  return sum;
}

/**
 * False-positive rate at the highest threshold whose true-positive rate reaches `tpr`
 * (default 0.95, "FPR@95"): the share of normal samples flagged when at least that share of
 * anomalies is caught. Throws like `auroc`, and a ValueError unless 0 < tpr <= 1.
 */
export function fprAtTpr(
  scores: ArrayLike<number>,
  isAnomaly: ArrayLike<number>,
  tpr = 0.95,
): number {
  if (!(tpr > 0 && tpr <= 1)) {
    throw new ValueError(`fprAtTpr: tpr is ${tpr} (expected a number in (0, 1])`);
  }
  const groups = groupByScore(checkInputs(scores, isAnomaly, 'fprAtTpr'));
  // Anomalies that must be caught; the epsilon keeps 0.28 * 25 (7.000000000000001) at 7.
  const needed = Math.ceil(tpr * groups.positives - 1e-9);
  const k = groups.truePositives.findIndex((tp) => tp >= needed);
  return (groups.falsePositives[k] ?? groups.negatives) / groups.negatives;
}
