/**
 * Fitting DUIAD on normal images: two augmented views per image, loss
 * InfoNCE + beta · entropy, SGD with a cosine schedule; then the normal training features
 * that the kNN score compares against.
 */
import { augment } from '../../augment/augment.js';
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { DuiadError, ValueError } from '../../errors.js';
import {
  Generator,
  SGD,
  type Tensor,
  cat,
  cosineSchedule,
  crossEntropy,
  indexSelect,
  keep,
  manualSeed,
  randperm,
  tensor,
  tidy,
} from '../../torch/index.js';
import type { FitOptions } from '../detector.js';
import { type DuiadConfig, resolveDuiadConfig } from './config.js';
import { DuiadModel } from './model.js';
import { DuiadNetwork } from './network.js';
import { entropyLoss, infoNce, rotateQuarters } from './objective.js';
import { type Preprocessing, encodeAll, fitPreprocessing, standardise } from '../preprocess.js';

/** Raised when `shouldStop` asks fitting to end early. */
export class AbortError extends DuiadError {
  constructor() {
    super('E_USAGE', 'fit: stopped on request');
  }
}

interface StepContext {
  net: DuiadNetwork;
  config: DuiadConfig;
  prep: Preprocessing;
  generator: Generator;
  centre: Tensor | undefined;
}

/** The MI terms of one step: InfoNCE between the views and/or rotation prediction. */
function miTerms(
  ctx: StepContext,
  v1: Tensor,
  v2: Tensor,
): { h: Tensor; z: Tensor; mi: Tensor; rotation: Tensor | null } {
  const { net, config } = ctx;
  const n = v1.shape[0] as number;
  const useRotation = config.mi !== 'infonce';
  // Each view is rotated by quarters on its own, so both views of an image share a rotation.
  const r1 = useRotation ? rotateQuarters(v1) : null;
  const r2 = useRotation ? rotateQuarters(v2) : null;
  const views = r1 && r2 ? cat([r1.images, r2.images], 0) : cat([v1, v2], 0);
  const h = net.forward(standardise(views, ctx.prep));
  const z = net.project(h);
  const nce =
    config.mi === 'rotation'
      ? null
      : infoNce(z.narrow(0, 0, n), z.narrow(0, n, n), config.temperature);
  const rotation =
    r1 && r2 ? crossEntropy(net.rotationHead.forward(h), cat([r1.labels, r2.labels], 0)) : null;
  if (nce && rotation) return { h, z, mi: nce.add(rotation.mul(config.rotationWeight)), rotation };
  return { h, z, mi: (nce ?? rotation) as Tensor, rotation };
}

/** One optimisation step on a batch `[batch, channels, h, w]` in [0, 1]; returns loss terms. */
function trainStep(ctx: StepContext, batch: Tensor, beta: number, optimiser: SGD) {
  return tidy(() => {
    const { config, generator } = ctx;
    const v1 = augment(batch, config.augment, generator);
    const v2 = augment(batch, config.augment, generator);
    const { h, z, mi, rotation } = miTerms(ctx, v1, v2);
    const entropy = entropyLoss(config.entropyOn === 'encoder' ? h : z, config.entropy, ctx.centre);
    const loss = beta > 0 ? mi.add(entropy.mul(beta)) : mi;
    optimiser.zeroGrad();
    loss.backward();
    optimiser.step();
    return {
      loss: loss.item(),
      mi: mi.item(),
      entropy: entropy.item(),
      rotation: rotation?.item() ?? 0,
    };
  });
}

function checkTrainingSet(train: ImageSet): void {
  checkImageSet(train, 'fit');
  if (train.count < 2) {
    throw new ValueError(`fit: training needs at least 2 normal images (got ${train.count})`);
  }
}

/** Fits DUIAD on normal images `train` and returns the fitted model. */
export async function fitDuiad(
  train: ImageSet,
  partial: Partial<DuiadConfig> = {},
  options: FitOptions = {},
): Promise<DuiadModel> {
  const config = resolveDuiadConfig(partial);
  checkTrainingSet(train);
  const started = performance.now();
  manualSeed(config.seed);
  const generator = new Generator(config.seed);
  const prep = fitPreprocessing(train);
  const net = new DuiadNetwork(
    {
      encoder: config.encoder,
      inChannels: train.channels,
      projectionDim: config.projectionDim,
      channelsLast: config.channelsLast,
    },
    generator,
  );
  const batchSize = Math.min(config.batchSize, train.count);
  const stepsPerEpoch = Math.floor(train.count / batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const optimiser = new SGD(net.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  const pixels = keep(
    tensor(train.images, [train.count, train.channels, train.height, train.width]),
  );
  const centre = config.entropy === 'center' ? keep(initialCentre(net, train, prep)) : undefined;
  const ctx: StepContext = { net, config, prep, generator, centre };
  options.onProgress?.({
    type: 'start',
    method: 'duiad',
    images: train.count,
    epochs: config.epochs,
    stepsPerEpoch,
  });

  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      const beta = epoch < config.entropyWarmupEpochs ? 0 : config.beta;
      const order = keep(randperm(train.count, generator));
      const sums = { loss: 0, mi: 0, entropy: 0, rotation: 0 };
      net.train();
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (options.shouldStop?.()) throw new AbortError();
        const globalStep = epoch * stepsPerEpoch + step;
        optimiser.lr = cosineSchedule(globalStep, totalSteps, {
          base: config.lr,
          warmup: Math.round(config.lrWarmup * totalSteps),
        });
        const batch = tidy(() =>
          indexSelect(pixels, 0, order.narrow(0, step * batchSize, batchSize))
            .to('float32')
            .div(255),
        );
        const terms = trainStep(ctx, batch, beta, optimiser);
        batch.dispose();
        if (!Number.isFinite(terms.loss)) {
          throw new ValueError(
            `fit: training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${terms.loss}); try a lower lr`,
          );
        }
        sums.loss += terms.loss;
        sums.mi += terms.mi;
        sums.entropy += terms.entropy;
        sums.rotation += terms.rotation;
        options.onProgress?.({
          type: 'step',
          epoch: epoch + 1,
          step: step + 1,
          steps: stepsPerEpoch,
          loss: terms.loss,
          lr: optimiser.lr,
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      order.dispose();
      options.onProgress?.({
        type: 'epoch',
        epoch: epoch + 1,
        epochs: config.epochs,
        loss: sums.loss / stepsPerEpoch,
        terms: {
          mi: sums.mi / stepsPerEpoch,
          entropy: sums.entropy / stepsPerEpoch,
          ...(config.mi === 'infonce' ? {} : { rotation: sums.rotation / stepsPerEpoch }),
        },
        seconds: (performance.now() - epochStart) / 1000,
      });
    }

    const features = encodeAll(net, train, {
      prep,
      onBatch: (done) => options.onProgress?.({ type: 'features', done, total: train.count }),
    });
    const trainingSeconds = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'done', seconds: trainingSeconds });
    return new DuiadModel({ net, config, prep, features, centre: centre ?? null, trainingSeconds });
  } catch (error) {
    net.dispose();
    centre?.dispose();
    throw error;
  } finally {
    pixels.dispose();
    optimiser.dispose();
  }
}

/** Mean encoder feature of the training images at initialisation (the `center` estimator). */
function initialCentre(net: DuiadNetwork, train: ImageSet, prep: Preprocessing): Tensor {
  const features = encodeAll(net, train, { prep });
  const centre = tidy(() => features.mean([0]));
  features.dispose();
  return centre;
}
