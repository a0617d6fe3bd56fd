/**
 * What the practical detector hands to its users: one verdict per image, and the `Scorer` a
 * loaded model file offers to the CLI, the HTTP server and the report. The server and the
 * report depend only on these types, never on how a model scores.
 */
import type { ErrorCode } from '../errors.js';

/** One scored image. `score` is higher for more anomalous images. */
export interface ScoredImage {
  /** The file path, or the name the caller gave the image. */
  path: string;
  /** Anomaly score (the detector's own scale; compare it only with `threshold`). */
  score: number;
  /** Conformal p-value against the held-out normal calibration scores, in (0, 1]. */
  pValue: number;
  /** `score > threshold`, beyond the score tolerance of `src/methods/calibration.ts`. */
  isAnomaly: boolean;
  /** The score above which an image is called anomalous (set at the target false-positive rate). */
  threshold: number;
}

/** An image that could not be scored (unreadable, wrong format, too large), and why. */
export interface UnscoredImage {
  path: string;
  /** The stable error code of the failure (see `src/errors.ts`). */
  code: ErrorCode;
  /** What went wrong, naming the image. */
  error: string;
}

/** An encoded image (PNG, JPEG or WebP bytes) and the name it is reported under. */
export interface EncodedImage {
  path: string;
  data: Uint8Array;
}

/** A summary of a loaded model, for `/health`, reports and logs. */
export interface ScorerInfo {
  method: string;
  /** The model's input: images are converted to this many channels and this size. */
  channels: number;
  height: number;
  width: number;
  threshold: number;
  /** Target false-positive rate the threshold was set at, in [0, 1]. */
  fpr: number;
  /** Number of held-out normal images the calibration used. */
  calibrationImages: number;
  versions: Record<string, string>;
}

/** An anomaly map of one image, as a PNG overlay of the map on the image. */
export interface AnomalyMap {
  path: string;
  /** PNG bytes, the model's input size. */
  png: Uint8Array;
}

/** What a loaded model offers its users. Results keep the order of the inputs. */
export interface Scorer {
  readonly info: ScorerInfo;
  scoreEncoded(images: readonly EncodedImage[]): Promise<Array<ScoredImage | UnscoredImage>>;
  mapEncoded(images: readonly EncodedImage[]): Promise<Array<AnomalyMap | UnscoredImage>>;
  dispose(): void;
}

/** Narrows a result to a scored image. */
export function isScored(result: ScoredImage | UnscoredImage): result is ScoredImage {
  return 'score' in result;
}
