/**
 * Fitting Deep SVDD on normal images: fix the centre c as the mean representation of the
 * training images under the initial network, then minimise the mean squared distance of the
 * representations to c. The score of an image is its squared distance to c.
 */
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import {
  Generator,
  SGD,
  cosineSchedule,
  indexSelect,
  keep,
  manualSeed,
  randperm,
  tensor,
  tidy,
} from '../../torch/index.js';
import type { FitOptions } from '../detector.js';
import { AbortError } from '../duiad/train.js';
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
  options.onProgress?.({
    type: 'start',
    method: 'deep-svdd',
    images: train.count,
    epochs: config.epochs,
    stepsPerEpoch,
  });

  // The centre: mean initial representation, on batch statistics as during training.
  const initial = encodeAll(net, train, { prep, trainMode: true });
  const centre = keep(
    tidy(() => {
      const c = initial.mean([0]);
      const sign = c.lt(0).to('float32').mul(-2).add(1);
      return c.abs().lt(minCentre).to('float32').mul(sign.mul(minCentre).sub(c)).add(c);
    }),
  );
  initial.dispose();

  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      const order = keep(randperm(train.count, generator));
      let sum = 0;
      net.train();
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (options.shouldStop?.()) throw new AbortError();
        optimiser.lr = cosineSchedule(epoch * stepsPerEpoch + step, totalSteps, {
          base: config.lr,
          warmup: 0,
        });
        const loss = tidy(() => {
          const batch = indexSelect(pixels, 0, order.narrow(0, step * batchSize, batchSize))
            .to('float32')
            .div(255);
          const z = net.forward(standardise(batch, prep));
          // Mean over features too, so that one learning rate suits every representation size.
          const value = z.sub(centre.reshape([1, -1])).pow(2).mean();
          optimiser.zeroGrad();
          value.backward();
          optimiser.step();
          return value.item();
        });
        if (!Number.isFinite(loss)) {
          throw new ValueError(
            `deep-svdd: training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${loss}); try a lower lr`,
          );
        }
        sum += loss;
        options.onProgress?.({
          type: 'step',
          epoch: epoch + 1,
          step: step + 1,
          steps: stepsPerEpoch,
          loss,
          lr: optimiser.lr,
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      order.dispose();
      options.onProgress?.({
        type: 'epoch',
        epoch: epoch + 1,
        epochs: config.epochs,
        loss: sum / stepsPerEpoch,
        terms: {},
        seconds: (performance.now() - epochStart) / 1000,
      });
    }
    net.eval();
    const trainingSeconds = (performance.now() - started) / 1000;
    options.onProgress?.({ type: 'done', seconds: trainingSeconds });
    return new DeepSvddModel({ net, config, prep, centre, trainingSeconds });
  } catch (error) {
    net.dispose();
    centre.dispose();
    throw error;
  } finally {
    pixels.dispose();
    optimiser.dispose();
  }
}
