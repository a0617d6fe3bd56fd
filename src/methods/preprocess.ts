/**
 * Turning stored uint8 images into the network's input: scale to [0, 1], then (after any
 * augmentation) standardise each channel with statistics of the normal training images.
 */
import type { ImageSet } from '../data/types.js';
import { ShapeError } from '../errors.js';
import {
  type Module,
  type Tensor,
  cat,
  channelsLast,
  noGrad,
  tensor,
  tidy,
} from '../torch/index.js';

/** The size of a model's input images. */
export interface Geometry {
  channels: number;
  height: number;
  width: number;
}

/** What a model needs to prepare images: their geometry and per-channel mean and std. */
export interface Preprocessing extends Geometry {
  mean: number[];
  std: number[];
}

/** Per-channel mean and standard deviation of `set`'s pixels, in [0, 1] units. */
export function fitPreprocessing(set: ImageSet): Preprocessing {
  const plane = set.height * set.width;
  const sums: number[] = new Array<number>(set.channels).fill(0);
  const squares: number[] = new Array<number>(set.channels).fill(0);
  for (let c = 0; c < set.channels; c++) {
    let sum = 0;
    let square = 0;
    for (let i = 0; i < set.count; i++) {
      const start = (i * set.channels + c) * plane;
      for (let p = start; p < start + plane; p++) {
        const v = (set.images[p] as number) / 255;
        sum += v;
        square += v * v;
      }
    }
    sums[c] = sum;
    squares[c] = square;
  }
  const n = set.count * plane;
  const mean = sums.map((s) => s / n);
  const std = squares.map((s, c) => Math.sqrt(Math.max(s / n - (mean[c] as number) ** 2, 1e-6)));
  return { channels: set.channels, height: set.height, width: set.width, mean, std };
}

/** Throws ShapeError unless `set` has the geometry the model was trained on. */
export function checkGeometry(set: ImageSet, prep: Geometry, where: string): void {
  if (set.channels !== prep.channels || set.height !== prep.height || set.width !== prep.width) {
    throw new ShapeError(
      `${where}: images are ${set.channels}×${set.height}×${set.width} but the model expects ` +
        `${prep.channels}×${prep.height}×${prep.width}`,
    );
  }
}

/** Images `start .. start + count - 1` of `set` as a float tensor in [0, 1]. */
export function imageBatch(set: ImageSet, start: number, count: number): Tensor {
  const bytes = set.channels * set.height * set.width;
  const slice = set.images.subarray(start * bytes, (start + count) * bytes);
  return tidy(() =>
    tensor(slice, [count, set.channels, set.height, set.width]).to('float32').div(255),
  );
}

/** Standardises `[batch, channels, h, w]` images in [0, 1] and lays them out channels-last. */
export function standardise(images: Tensor, prep: Preprocessing): Tensor {
  return tidy(() => {
    const c = prep.channels;
    const mean = tensor(Float32Array.from(prep.mean), [1, c, 1, 1]);
    const std = tensor(Float32Array.from(prep.std), [1, c, 1, 1]);
    return channelsLast(images.sub(mean).div(std));
  });
}

/** Options of `encodeAll`. */
export interface EncodeOptions {
  prep: Preprocessing;
  /** Called with the number of images done after each batch. */
  onBatch?: (done: number) => void;
  /** Run batch norms on batch statistics (training mode) instead of running ones. */
  trainMode?: boolean;
}

/** Outputs `[count, ...]` of `net` for every image of `set`, in batches of 500, without autograd. */
export function encodeAll(net: Module, set: ImageSet, options: EncodeOptions): Tensor {
  const batchSize = 500;
  const parts: Tensor[] = [];
  net.train(options.trainMode ?? false);
  noGrad(() => {
    for (let start = 0; start < set.count; start += batchSize) {
      const rows = Math.min(batchSize, set.count - start);
      parts.push(tidy(() => net.forward(standardise(imageBatch(set, start, rows), options.prep))));
      options.onBatch?.(start + rows);
    }
  });
  net.eval();
  const all = tidy(() => cat(parts, 0));
  for (const p of parts) p.dispose();
  return all;
}
