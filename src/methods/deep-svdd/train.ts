/**
 * Fitting Deep SVDD on normal images: fix the centre c as the mean representation of the
 * training images under the initial network, then minimise the mean squared distance of the
 * representations to c. The score of an image is its squared distance to c.
 */
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import { Generator, SGD, full, keep, manualSeed, tidy, where } from '../../torch/index.js';
import type { FitOptions } from '../detector.js';
import { trainEpochs } from '../loop.js';
import { encodeAll, fitPreprocessing, standardise } from '../preprocess.js';
import { type DeepSvddConfig, resolveDeepSvddConfig } from './config.js';
import { DeepSvddModel } from './model.js';
import { DeepSvddNetwork } from './network.js';

/** Centre coordinates closer to 0 than this are pushed out to ±minCentre, as in the paper. */
const minCentre = 0.1;

/** Fits Deep SVDD on normal images `train`. */
export async function fitDeepSvdd(
  train: ImageSet,
  partial: Partial<DeepSvddConfig> = {},
  options: FitOptions = {},
): Promise<DeepSvddModel> {
  const config = resolveDeepSvddConfig(partial);
  checkImageSet(train, 'deep-svdd');
  if (train.count < 2) {
    throw new ValueError(`deep-svdd: training needs at least 2 normal images (got ${train.count})`);
  }
  const started = performance.now();
  manualSeed(config.seed);
  const generator = new Generator(config.seed);
  const prep = fitPreprocessing(train);
  const net = new DeepSvddNetwork(
    {
      inChannels: train.channels,
      height: train.height,
      width: train.width,
      widths: config.widths,
      features: config.features,
    },
    generator,
  );
  const optimiser = new SGD(net.parameters(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });

  // The centre: mean initial representation, on batch statistics as during training.
  const initial = encodeAll(net, train, { prep, trainMode: true });
  const centre = keep(
    tidy(() => {
      const c = initial.mean([0]);
      const pushed = where(c.lt(0), full(c.shape, -minCentre), full(c.shape, minCentre));
      return where(c.abs().lt(minCentre), pushed, c);
    }),
  );
  initial.dispose();

  try {
    net.train();
    const plan = {
      method: 'deep-svdd',
      train,
      epochs: config.epochs,
      batchSize: config.batchSize,
      lr: config.lr,
      lrWarmup: 0,
      optimiser,
      generator,
    };
    await trainEpochs(
      plan,
      (batch) =>
        tidy(() => {
          const z = net.forward(standardise(batch, prep));
          // Mean over features too, so that one learning rate suits every representation size.
          const loss = z
            .sub(centre.reshape([1, -1]))
            .pow(2)
            .mean();
          optimiser.zeroGrad();
          loss.backward();
          optimiser.step();
          return { loss: loss.item() };
        }),
      options,
    );
    net.eval();
    const trainingSeconds = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'done', seconds: trainingSeconds });
    return new DeepSvddModel({ net, config, prep, centre, trainingSeconds });
  } catch (error) {
    net.dispose();
    centre.dispose();
    throw error;
  } finally {
    optimiser.dispose();
  }
}
