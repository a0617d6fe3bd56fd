/**
 * Evaluation metrics for anomaly scores: AUROC, AUPR, FPR at a target TPR, ROC points.
 */

export { auroc } from './auroc.js';
export { aupr, fprAtTpr, rocCurve, type RocPoint } from './curves.js';
