/**
 * Configuration of the DUIAD detector, with every default in one place.
 */
import {
  type AugmentConfig,
  checkAugmentConfig,
  defaultAugmentConfig,
} from '../../augment/augment.js';
import { ValueError } from '../../errors.js';
import { type ResNetPreset, resnetPresets } from '../../models/resnet.js';

/** Entropy estimators of docs/DESIGN.md, section 1. */
export type EntropyEstimator = 'vmf' | 'center' | 'gaussian';

/** Mutual-information estimators: InfoNCE over two views, rotation prediction, or both. */
export type MiEstimator = 'infonce' | 'rotation' | 'both';

/**
 * How an image is scored: `knn` compares its encoder features with the normal training
 * features; `rotation` asks the rotation classifier how surely it recognises each of the four
 * right-angle rotations of the image (needs the rotation MI term); `combined` adds the two,
 * each standardised by its mean and spread over the normal training images.
 */
export type ScoreKind = 'knn' | 'rotation' | 'combined';

/** Where the entropy term is measured: pooled encoder features or the projection output. */
export type EntropyTarget = 'encoder' | 'projection';

/** Everything that defines a DUIAD run. */
export interface DuiadConfig {
  /** Encoder preset (see `resnetPresets`). */
  encoder: ResNetPreset;
  /** Mutual-information term(s); `rotationWeight` scales the rotation term under `both`. */
  mi: MiEstimator;
  rotationWeight: number;
  /** Output size of the projection head used by InfoNCE. */
  projectionDim: number;
  /** InfoNCE temperature. */
  temperature: number;
  /** Entropy estimator and its weight beta (0 = contrastive only). */
  entropy: EntropyEstimator;
  beta: number;
  entropyOn: EntropyTarget;
  /** Epochs trained with the MI term only, before the entropy term is switched on. */
  entropyWarmupEpochs: number;
  epochs: number;
  batchSize: number;
  /** SGD: peak learning rate, momentum, weight decay; LR warm-up share of all steps. */
  lr: number;
  momentum: number;
  weightDecay: number;
  lrWarmup: number;
  augment: AugmentConfig;
  /** Anomaly score, and the neighbours averaged by the kNN score. */
  score: ScoreKind;
  k: number;
  seed: number;
  /**
   * Keep convolution weights and activations channels-last (NHWC in memory): oneDNN's CPU
   * convolutions run faster that way; results match the default layout to float rounding.
   */
  channelsLast: boolean;
}

/** Defaults, fixed before looking at any test result. */
export const defaultDuiadConfig: Readonly<DuiadConfig> = {
  encoder: 'tiny',
  mi: 'both',
  rotationWeight: 1,
  projectionDim: 128,
  temperature: 0.2,
  entropy: 'vmf',
  beta: 5,
  entropyOn: 'encoder',
  entropyWarmupEpochs: 0,
  epochs: 8,
  batchSize: 256,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  lrWarmup: 0.05,
  augment: defaultAugmentConfig,
  score: 'knn',
  k: 5,
  seed: 0,
  channelsLast: true,
};

function positiveInteger(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ValueError(`config: ${name} must be an integer in [1, ${max}] (got ${value})`);
  }
}

function finiteRange(name: string, value: number, min: number, max: number): void {
  if (!(Number.isFinite(value) && value >= min && value <= max)) {
    throw new ValueError(`config: ${name} must be a number in [${min}, ${max}] (got ${value})`);
  }
}

/** Fills defaults and validates; throws ValueError naming the first bad field. */
export function resolveDuiadConfig(partial: Partial<DuiadConfig> = {}): DuiadConfig {
  if (
    partial.augment !== undefined &&
    (partial.augment === null || typeof partial.augment !== 'object')
  ) {
    throw new ValueError('config: augment must be an object of augmentation settings');
  }
  const augment = { ...defaultAugmentConfig, ...partial.augment };
  const c: DuiadConfig = { ...defaultDuiadConfig, ...partial, augment };
  for (const [key, value] of Object.entries(c)) {
    const expected = typeof (defaultDuiadConfig as Record<string, unknown>)[key];
    if (expected !== 'undefined' && typeof value !== expected) {
      throw new ValueError(`config: ${key} must be a ${expected} (got ${JSON.stringify(value)})`);
    }
  }
  if (!Object.hasOwn(resnetPresets, c.encoder)) {
    throw new ValueError(
      `config: unknown encoder '${c.encoder}' (use ${Object.keys(resnetPresets).join(', ')})`,
    );
  }
  if (!['vmf', 'center', 'gaussian'].includes(c.entropy)) {
    throw new ValueError(
      `config: unknown entropy estimator '${c.entropy}' (use vmf, center, gaussian)`,
    );
  }
  if (!['infonce', 'rotation', 'both'].includes(c.mi)) {
    throw new ValueError(`config: unknown mi estimator '${c.mi}' (use infonce, rotation, both)`);
  }
  if (!['encoder', 'projection'].includes(c.entropyOn)) {
    throw new ValueError(
      `config: entropyOn must be 'encoder' or 'projection' (got '${c.entropyOn}')`,
    );
  }
  if (!['knn', 'rotation', 'combined'].includes(c.score)) {
    throw new ValueError(`config: unknown score '${c.score}' (use knn, rotation, combined)`);
  }
  if (c.score !== 'knn' && c.mi === 'infonce') {
    throw new ValueError(
      `config: score '${c.score}' needs the rotation classifier (mi 'rotation' or 'both')`,
    );
  }
  positiveInteger('projectionDim', c.projectionDim, 4096);
  positiveInteger('epochs', c.epochs, 100_000);
  positiveInteger('batchSize', c.batchSize, 65_536);
  positiveInteger('k', c.k, 10_000);
  if (c.batchSize < 2) throw new ValueError('config: batchSize must be at least 2 for InfoNCE');
  finiteRange('temperature', c.temperature, 1e-3, 100);
  finiteRange('beta', c.beta, 0, 1e4);
  finiteRange('rotationWeight', c.rotationWeight, 0, 1e4);
  finiteRange('lr', c.lr, 0, 100);
  finiteRange('momentum', c.momentum, 0, 1);
  finiteRange('weightDecay', c.weightDecay, 0, 1);
  finiteRange('lrWarmup', c.lrWarmup, 0, 1);
  finiteRange('entropyWarmupEpochs', c.entropyWarmupEpochs, 0, c.epochs);
  finiteRange('seed', c.seed, 0, 2 ** 53 - 1);
  checkAugmentConfig(c.augment);
  return c;
}
