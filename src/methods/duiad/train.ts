/**
 * Fitting DUIAD on normal images: two augmented views per image, loss
 * InfoNCE + beta · entropy, SGD with a cosine schedule; then the normal training features
 * that the kNN score compares against.
 */
import { augment } from '../../augment/augment.js';
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import {
  Generator,
  SGD,
  type Tensor,
  cat,
  crossEntropy,
  keep,
  manualSeed,
  normalize,
  tidy,
} from '../../torch/index.js';
import type { FitOptions } from '../detector.js';
import { AbortError, trainEpochs } from '../loop.js';
import { type DuiadConfig, resolveDuiadConfig } from './config.js';
import { knnScores } from '../knn.js';
import { DuiadModel, type ScoreStats } from './model.js';
import { rotationScores } from './rotation-score.js';
import { DuiadNetwork } from './network.js';
import { entropyLoss, infoNce, rotateQuarters } from './objective.js';
import { type Preprocessing, encodeAll, fitPreprocessing, standardise } from '../preprocess.js';

export { AbortError };

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
      ...(rotation ? { rotation: rotation.item() } : {}),
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
  const optimiser = new SGD(net.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  const centre = config.entropy === 'center' ? keep(initialCentre(net, train, prep)) : undefined;
  const ctx: StepContext = { net, config, prep, generator, centre };

  try {
    net.train();
    await trainEpochs(
      {
        method: 'duiad',
        train,
        epochs: config.epochs,
        batchSize: config.batchSize,
        lr: config.lr,
        lrWarmup: config.lrWarmup,
        optimiser,
        generator,
      },
      (batch, epoch) =>
        trainStep(ctx, batch, epoch < config.entropyWarmupEpochs ? 0 : config.beta, optimiser),
      options,
    );

    const features = encodeAll(net, train, {
      prep,
      onBatch: (done) => options.onProgress?.({ type: 'features', done, total: train.count }),
    });
    const scoreStats =
      config.score === 'combined' ? trainingScoreStats(net, features, train, prep, config.k) : null;
    const trainingSeconds = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'done', seconds: trainingSeconds });
    return new DuiadModel({
      net,
      config,
      prep,
      features,
      centre: centre ?? null,
      trainingSeconds,
      scoreStats,
    });
  } catch (error) {
    net.dispose();
    centre?.dispose();
    throw error;
  } finally {
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

/**
 * Mean and spread of both scores over the training images, for the `combined` score. Each
 * image's kNN score asks for k + 1 neighbours, its own feature among them.
 */
function trainingScoreStats(
  net: DuiadNetwork,
  features: Tensor,
  train: ImageSet,
  prep: Preprocessing,
  k: number,
): ScoreStats {
  net.eval();
  const bank = tidy(() => normalize(features));
  const knn = knnScores(bank, bank, k + 1);
  bank.dispose();
  const rotation = rotationScores(net, train, prep);
  const [knnMean, knnStd] = meanAndSpread(knn);
  const [rotationMean, rotationStd] = meanAndSpread(rotation);
  return { knnMean, knnStd, rotationMean, rotationStd };
}

/** Mean and standard deviation (at least 1e-6, so that dividing by it is safe). */
function meanAndSpread(xs: Float32Array): [number, number] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
  return [mean, Math.max(Math.sqrt(variance), 1e-6)];
}
