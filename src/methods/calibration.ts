/**
 * Calibration from normal data alone (split conformal prediction): the scores of held-out
 * normal images set the threshold for a target false-positive rate and give each new score a
 * p-value. Under exchangeability (new normal images drawn like the held-out ones) an image is
 * called anomalous with probability at most `fpr`.
 */
import { ValueError } from '../errors.js';

/** What a model file stores of its calibration. */
export interface Calibration {
  /** Target false-positive rate, in (0, 1). */
  fpr: number;
  /** Scores of the held-out normal images, sorted ascending. */
  scores: number[];
  /**
   * Anomaly iff `score > threshold` (beyond the score tolerance): the k-th smallest score,
   * k = n + 1 − ⌊(n + 1)·fpr⌋.
   */
  threshold: number;
}

/** Slack for (n + 1)·fpr landing a rounding error below an integer (20 × 0.05). */
const epsilon = 1e-9;

/**
 * Scores this close (relative, at least absolute 1e-6) count as equal when compared with the
 * calibration: the engine's float rounding depends on how many images share a batch, which
 * moves an image's score by about 1e-7, and that must not flip a verdict or a p-value.
 */
export const scoreTolerance = 1e-6;

const slack = (x: number) => scoreTolerance * Math.max(1, Math.abs(x));

/** Whether `score` is above `threshold` by more than the score tolerance: an anomaly. */
export function exceeds(score: number, threshold: number): boolean {
  return score > threshold + slack(threshold);
}

/** Fewest held-out scores that can set a threshold at `fpr`: ⌈1/fpr⌉ − 1. */
export function minCalibrationImages(fpr: number): number {
  return Math.max(1, Math.ceil(1 / fpr - epsilon) - 1);
}

/**
 * The conformal threshold of `scores` (any order) at `fpr`: with n scores and
 * m = ⌊(n + 1)·fpr⌋, the (n + 1 − m)-th smallest. `score > threshold` holds exactly when the
 * p-value is at most `fpr` (a score beats the k-th smallest iff at most n − k scores reach it).
 * ValueError if there are too few scores for `fpr` (m = 0).
 */
export function calibrate(scores: ArrayLike<number>, fpr: number): Calibration {
  const n = scores.length;
  const m = checkCalibrationSize(n, fpr);
  const sorted = Array.from(scores).sort((a, b) => a - b);
  if (!sorted.every(Number.isFinite)) {
    throw new ValueError('calibration: a held-out score is NaN or infinite');
  }
  return { fpr, scores: sorted, threshold: sorted[n - m] as number };
}

/**
 * Checks that `n` held-out scores can set a threshold at `fpr` and returns m = ⌊(n + 1)·fpr⌋,
 * the most held-out scores allowed above the threshold. ValueError otherwise.
 */
export function checkCalibrationSize(n: number, fpr: number): number {
  if (!(Number.isFinite(fpr) && fpr > 0 && fpr < 1)) {
    throw new ValueError(`calibration: fpr must be a number in (0, 1) (got ${fpr})`);
  }
  const m = Math.floor((n + 1) * fpr + epsilon);
  if (m < 1) {
    throw new ValueError(
      `calibration: ${n} held-out normal images cannot set a threshold at fpr ${fpr} ` +
        `(needs at least ${minCalibrationImages(fpr)}); hold out more images or raise fpr`,
    );
  }
  return m;
}

/**
 * Conformal p-value of `score`: (1 + #{calibration scores ≥ score}) / (n + 1), in (0, 1],
 * where a calibration score within the score tolerance below `score` counts as equal.
 */
export function pValue(calibration: Pick<Calibration, 'scores'>, score: number): number {
  const s = calibration.scores;
  const floor = score - slack(score);
  // Binary search for the first sorted score ≥ `floor`.
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((s[mid] as number) < floor) lo = mid + 1;
    else hi = mid;
  }
  return (1 + s.length - lo) / (s.length + 1);
}

/**
 * Splits `count` images into fitting and held-out calibration indices: a seeded shuffle,
 * then the first `round(count · share)` (at least 1) are held out. Both lists come back in
 * ascending order. ValueError if fewer than 2 images would remain to fit on.
 */
export function calibrationSplit(
  count: number,
  share: number,
  seed: number,
): { fit: number[]; calibration: number[] } {
  if (!(Number.isFinite(share) && share > 0 && share < 1)) {
    throw new ValueError(`calibration: share must be a number in (0, 1) (got ${share})`);
  }
  const held = Math.max(1, Math.round(count * share));
  if (count - held < 2) {
    throw new ValueError(
      `calibration: ${count} images leave ${count - held} to fit on after holding out ${held} ` +
        '(needs at least 2)',
    );
  }
  const order = Array.from({ length: count }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const byIndex = (a: number, b: number) => a - b;
  return {
    calibration: order.slice(0, held).sort(byIndex),
    fit: order.slice(held).sort(byIndex),
  };
}

/** A small seeded generator of floats in [0, 1) (mulberry32), independent of the engine. */
function mulberry32(seed: number): () => number {
  let a = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Throws ValueError unless `value` is a well-formed Calibration (as read from a file). */
export function checkCalibration(value: unknown): Calibration {
  const c = value as Partial<Calibration> | null;
  if (c === null || typeof c !== 'object') throw new ValueError('calibration is not an object');
  const { fpr, scores, threshold } = c;
  if (typeof fpr !== 'number' || !(fpr > 0 && fpr < 1)) {
    throw new ValueError(`calibration fpr must be in (0, 1) (got ${String(fpr)})`);
  }
  if (!Array.isArray(scores) || !scores.every((s) => typeof s === 'number' && Number.isFinite(s))) {
    throw new ValueError('calibration scores are not a list of finite numbers');
  }
  if (!scores.every((s, i) => i === 0 || (scores[i - 1] as number) <= s)) {
    throw new ValueError('calibration scores are not sorted');
  }
  const expected = calibrate(scores, fpr).threshold;
  if (threshold !== expected) {
    throw new ValueError(
      `calibration threshold ${String(threshold)} does not follow from its scores (${expected})`,
    );
  }
  return { fpr, scores, threshold };
}
