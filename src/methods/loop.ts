/**
 * The training loop the deep detectors share: epochs over the normal images in a seeded
 * random order, a cosine learning-rate schedule, progress events, a stop check between steps
 * and a divergence check after each. The detector supplies one optimisation step.
 */
import type { ImageSet } from '../data/types.js';
import { DuiadError, ValueError } from '../errors.js';
import {
  type Generator,
  type Tensor,
  cosineSchedule,
  indexSelect,
  keep,
  randperm,
  tensor,
  tidy,
} from '../torch/index.js';
import type { FitOptions } from './detector.js';

/** Raised when `shouldStop` asks fitting to end early. */
export class AbortError extends DuiadError {
  constructor() {
    super('E_USAGE', 'fit: stopped on request');
  }
}

/** An optimiser whose learning rate the loop sets before each step. */
export interface ScheduledOptimiser {
  lr: number;
}

/** What the loop runs. */
export interface LoopPlan {
  method: string;
  train: ImageSet;
  epochs: number;
  /** Images per step (capped at the number of images); the last partial batch is dropped. */
  batchSize: number;
  /** Peak learning rate, and the share of all steps spent warming up to it. */
  lr: number;
  lrWarmup: number;
  optimiser: ScheduledOptimiser;
  generator: Generator;
}

/**
 * One step on a batch `[batch, channels, height, width]` in [0, 1]; returns the loss and any
 * named loss terms, which the loop averages per epoch.
 */
export type TrainStep = (batch: Tensor, epoch: number) => { loss: number } & Record<string, number>;

/** Runs `plan.epochs` epochs of `step`, reporting progress through `options`. */
export async function trainEpochs(
  plan: LoopPlan,
  step: TrainStep,
  options: FitOptions = {},
): Promise<void> {
  const { train, epochs, optimiser, generator } = plan;
  const batchSize = Math.min(plan.batchSize, train.count);
  const stepsPerEpoch = Math.floor(train.count / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const warmup = Math.round(plan.lrWarmup * totalSteps);
  options.onProgress?.({
    type: 'start',
    method: plan.method,
    images: train.count,
    epochs,
    stepsPerEpoch,
  });
  const pixels = keep(
    tensor(train.images, [train.count, train.channels, train.height, train.width]),
  );
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      const order = keep(randperm(train.count, generator));
      const sums: Record<string, number> = {};
      try {
        for (let s = 0; s < stepsPerEpoch; s++) {
          if (options.shouldStop?.()) throw new AbortError();
          optimiser.lr = cosineSchedule(epoch * stepsPerEpoch + s, totalSteps, {
            base: plan.lr,
            warmup,
          });
          const batch = tidy(() =>
            indexSelect(pixels, 0, order.narrow(0, s * batchSize, batchSize))
              .to('float32')
              .div(255),
          );
          const terms = (() => {
            try {
              return step(batch, epoch);
            } finally {
              batch.dispose();
            }
          })();
          if (!Number.isFinite(terms.loss)) {
            throw new ValueError(
              `fit: training diverged at epoch ${epoch + 1}, step ${s + 1} (loss ${terms.loss}); try a lower lr`,
            );
          }
          for (const [name, value] of Object.entries(terms)) sums[name] = (sums[name] ?? 0) + value;
          options.onProgress?.({
            type: 'step',
            epoch: epoch + 1,
            step: s + 1,
            steps: stepsPerEpoch,
            loss: terms.loss,
            lr: optimiser.lr,
          });
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        order.dispose();
      }
      const { loss = 0, ...terms } = sums;
      options.onProgress?.({
        type: 'epoch',
        epoch: epoch + 1,
        epochs,
        loss: loss / stepsPerEpoch,
        terms: Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, v / stepsPerEpoch])),
        seconds: (performance.now() - epochStart) / 1000,
      });
    }
  } finally {
    pixels.dispose();
  }
}
