/**
 * Configuration of the Deep SVDD baseline (Ruff et al. 2018, one-class objective), with its
 * defaults in one place. They were fixed up front, not tuned on any test result.
 */
import { ValueError } from '../../errors.js';

export interface DeepSvddConfig {
  /** Channels of the three 5×5 conv stages (each: conv, batch norm, leaky ReLU, 2×2 max-pool). */
  widths: readonly [number, number, number];
  /** Size of the representation that is pulled towards the centre. */
  features: number;
  epochs: number;
  batchSize: number;
  /** SGD: learning rate (cosine-decayed), momentum and weight decay. */
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
}

export const defaultDeepSvddConfig: Readonly<DeepSvddConfig> = {
  widths: [32, 64, 128],
  features: 128,
  epochs: 10,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-6,
  seed: 0,
};

/** Fills defaults and validates; throws ValueError naming the first bad field. */
export function resolveDeepSvddConfig(partial: Partial<DeepSvddConfig> = {}): DeepSvddConfig {
  const c: DeepSvddConfig = { ...defaultDeepSvddConfig, ...partial };
  const ints: Array<[string, number, number]> = [
    ['features', c.features, 4096],
    ['epochs', c.epochs, 100_000],
    ['batchSize', c.batchSize, 65_536],
    ...c.widths.map((w, i): [string, number, number] => [`widths[${i}]`, w, 4096]),
  ];
  for (const [name, value, max] of ints) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new ValueError(`deep-svdd: ${name} must be an integer in [1, ${max}] (got ${value})`);
    }
  }
  if (c.widths.length !== 3) {
    throw new ValueError(`deep-svdd: widths must list 3 stages (got ${c.widths.length})`);
  }
  const reals: Array<[string, number, number]> = [
    ['lr', c.lr, 100],
    ['momentum', c.momentum, 1],
    ['weightDecay', c.weightDecay, 1],
    ['seed', c.seed, 2 ** 53 - 1],
  ];
  for (const [name, value, max] of reals) {
    if (!(Number.isFinite(value) && value >= 0 && value <= max)) {
      throw new ValueError(`deep-svdd: ${name} must be a number in [0, ${max}] (got ${value})`);
    }
  }
  return c;
}
