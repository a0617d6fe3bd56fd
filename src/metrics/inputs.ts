/**
 * Input checks and score ordering shared by the metrics (not part of the public API).
 */

import { ValueError } from '../errors.js';

/** Scores checked against their labels, with the size of each class. */
export interface CheckedInputs {
  /** The scores as float64, `[n]`. */
  scores: Float64Array;
  /** 1 = anomaly (the positive class), 0 = normal, `[n]`. */
  isAnomaly: Uint8Array;
  /** Number of anomalies. */
  positives: number;
  /** Number of normal samples. */
  negatives: number;
}

/** Scores grouped by distinct value, highest first, with cumulative class counts. */
export interface ScoreGroups {
  /** The distinct scores in decreasing order, `[groups]`. */
  thresholds: Float64Array;
  /** `truePositives[k]`: anomalies with score >= `thresholds[k]`. */
  truePositives: Float64Array;
  /** `falsePositives[k]`: normal samples with score >= `thresholds[k]`. */
  falsePositives: Float64Array;
  positives: number;
  negatives: number;
}

/**
 * Checks that `scores` and `isAnomaly` have one entry per sample, that every score is finite,
 * every label 0 or 1, and both classes occur. Errors name `metric` and the offending index.
 */
export function checkInputs(
  scores: ArrayLike<number>,
  isAnomaly: ArrayLike<number>,
  metric: string,
): CheckedInputs {
  if (scores.length !== isAnomaly.length) {
    throw new ValueError(
      `${metric}: scores has ${fmt(scores.length)} entries but isAnomaly has ` +
        `${fmt(isAnomaly.length)} (expected one label per score)`,
    );
  }
  const checkedScores = Float64Array.from(scores);
  const labels = new Uint8Array(scores.length);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const score = checkedScores[i] ?? Number.NaN;
    if (!Number.isFinite(score)) {
      throw new ValueError(
        `${metric}: score at index ${fmt(i)} is ${score} (expected a finite number)`,
      );
    }
    const label = isAnomaly[i];
    if (label !== 0 && label !== 1) {
      throw new ValueError(`${metric}: isAnomaly at index ${fmt(i)} is ${label} (expected 0 or 1)`);
    }
    labels[i] = label;
    positives += label;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new ValueError(
      `${metric}: needs both anomalous and normal samples ` +
        `(got ${fmt(positives)} anomalous and ${fmt(negatives)} normal)`,
    );
  }
  return { scores: checkedScores, isAnomaly: labels, positives, negatives };
}

/** Sample indices ordered by decreasing score. O(n log n). */
export function decreasingOrder(scores: Float64Array): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
}

/** Groups checked inputs by distinct score, highest first, counting each class cumulatively. */
export function groupByScore(inputs: CheckedInputs): ScoreGroups {
  const { scores, isAnomaly, positives, negatives } = inputs;
  const order = decreasingOrder(scores);
  const thresholds: number[] = [];
  const truePositives: number[] = [];
  const falsePositives: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let p = 0; p < order.length; p++) {
    const i = order[p] ?? 0;
    if (isAnomaly[i] === 1) tp += 1;
    else fp += 1;
    const next = order[p + 1];
    // Close the group at the last sample of each run of equal scores.
    if (next === undefined || scores[next] !== scores[i]) {
      thresholds.push(scores[i] ?? 0);
      truePositives.push(tp);
      falsePositives.push(fp);
    }
  }
  return {
    thresholds: Float64Array.from(thresholds),
    truePositives: Float64Array.from(truePositives),
    falsePositives: Float64Array.from(falsePositives),
    positives,
    negatives,
  };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
