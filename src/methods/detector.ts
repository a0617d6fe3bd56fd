/**
 * The interface every detector implements, so that the CLI and the benchmark can run any of
 * them side by side: fit on normal images, then score images (higher = more anomalous).
 */
import type { ImageSet } from '../data/types.js';

/** Progress reported while fitting; the caller decides how to show it. */
export type FitEvent =
  | { type: 'start'; method: string; images: number; epochs: number; stepsPerEpoch: number }
  | { type: 'step'; epoch: number; step: number; steps: number; loss: number; lr: number }
  | {
      type: 'epoch';
      epoch: number;
      epochs: number;
      loss: number;
      terms: Record<string, number>;
      seconds: number;
    }
  | { type: 'features'; done: number; total: number }
  | { type: 'done'; seconds: number };

/** Options shared by every detector's fit. */
export interface FitOptions {
  onProgress?: (event: FitEvent) => void;
  /** Checked between steps; when it returns true fitting stops with an AbortError. */
  shouldStop?: () => boolean;
}

/** A detector after fitting: it exists only once fitting has succeeded. */
export interface FittedDetector {
  /** Method name, e.g. `duiad`. */
  readonly method: string;
  /** Anomaly scores, one per image, higher = more anomalous. */
  score(images: ImageSet): Float32Array;
  /** Writes the model (weights, configuration, training features) to a safetensors file. */
  save(path: string, extraMetadata?: Record<string, unknown>): Promise<void>;
  /** Frees the model's tensors. */
  dispose(): void;
}
