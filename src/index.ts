/**
 * duiad as a library: image folders, the calibrated detector (`fit`, `score`, `save`,
 * `load`), datasets, the DUIAD method, metrics, the tensor engine, the HTTP server and HTML
 * reports.
 *
 * ```ts
 * import { loadDataset, oneClassSplit, fitDuiad, auroc } from 'duiad';
 * const split = oneClassSplit(await loadDataset('fashion-mnist', 'train'),
 *                             await loadDataset('fashion-mnist', 'test'), 0);
 * const model = await fitDuiad(split.train, { epochs: 10 });
 * console.log(auroc(model.score(split.test), split.testIsAnomaly));
 * ```
 */
export * from './errors.js';
export type { ImageSet, Split } from './data/types.js';
export {
  type DatasetName,
  classNames,
  datasetNames,
  defaultDataPath,
  loadDataset,
  parseDatasetName,
} from './data/datasets.js';
export { readCifar } from './data/cifar.js';
export {
  type FolderImages,
  type FolderOptions,
  type ImageFailure,
  type InputSpec,
  type ReadImageOptions,
  type ResizeMode,
  decodeImage,
  defaultInputSpec,
  defaultMaxBytes,
  defaultMaxPixels,
  readImageFolder,
  resizeModes,
} from './data/folder.js';
export {
  type AnomalyMap,
  type DetectorOptions,
  type EncodedImage,
  type ScoredImage,
  type Scorer,
  type ScorerInfo,
  type UnscoredImage,
  Detector,
  defaultDetectorOptions,
  fit,
  isScored,
  load,
  loadScorer,
  save,
  score,
} from './detect/index.js';
export {
  type Calibration,
  calibrate,
  calibrationSplit,
  minCalibrationImages,
  pValue,
} from './methods/calibration.js';
export { type MapScale, occlusionMaps } from './methods/occlusion.js';
export { readIdxDataset } from './data/idx.js';
export { oneClassSplit, subset, type OneClassSplit } from './data/oneclass.js';
export { augment, defaultAugmentConfig, type AugmentConfig } from './augment/augment.js';
export type { FitEvent, FitOptions, FittedDetector } from './methods/detector.js';
export {
  type DuiadConfig,
  type EntropyEstimator,
  defaultDuiadConfig,
  resolveDuiadConfig,
} from './methods/duiad/config.js';
export { fitDuiad, AbortError } from './methods/duiad/train.js';
export {
  DuiadModel,
  loadDuiadModel,
  type ModelMetadata,
  type ModelSections,
} from './methods/duiad/model.js';
export { auroc, aupr, fprAtTpr, rocCurve, type RocPoint } from './metrics/index.js';
export * as torch from './torch/index.js';
export {
  createServer,
  defaultServeLimits,
  startServer,
  type DuiadServer,
  type ServeLimits,
  type ServerOptions,
} from './serve/index.js';
export {
  buildReport,
  renderReport,
  type BuildReportOptions,
  type ReportInput,
  type ReportItem,
} from './report/index.js';
