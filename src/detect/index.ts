/**
 * The practical detector's entry point for the CLI, the HTTP server and the library:
 * `loadScorer` opens a model file as a `Scorer`. This module holds no state of its own, so a
 * worker thread may import it and own the scorer it loads (free it with `dispose()`).
 */
import type { ReadImageOptions } from '../data/folder.js';
import { load } from './detector.js';
import type { Scorer } from './types.js';

export * from './types.js';
export {
  type DetectorOptions,
  Detector,
  defaultDetectorOptions,
  fit,
  load,
  save,
  score,
} from './detector.js';

/**
 * Loads a calibrated model file (from `duiad train --data` or `save`) as a Scorer.
 * `limits` bound the images it will decode (pixels, bytes). NotFoundError, FormatError or
 * ModelError (naming the file) if the file is missing, corrupt or not a calibrated model.
 */
export function loadScorer(modelFile: string, limits: ReadImageOptions = {}): Promise<Scorer> {
  return load(modelFile, limits);
}
