/**
 * The raw-pixel baseline: an image's anomaly score is one minus its mean cosine similarity
 * to the k nearest normal training images, compared as flattened pixel vectors.
 */
import type { ImageSet } from '../../data/types.js';
import { ValueError } from '../../errors.js';
import { type Tensor, normalize, saveSafetensors, tensor, tidy } from '../../torch/index.js';
import type { FittedDetector } from '../detector.js';
import { type Geometry, checkGeometry } from '../preprocess.js';
import { knnScores } from '../knn.js';

/** Options of the pixel kNN baseline. */
export interface PixelKnnConfig {
  /** Neighbours averaged by the score. */
  k: number;
}

export const defaultPixelKnnConfig: Readonly<PixelKnnConfig> = { k: 5 };

/** Flattened, L2-normalised pixels `[count, channels · height · width]`. */
function pixelFeatures(set: ImageSet): Tensor {
  const size = set.channels * set.height * set.width;
  return tidy(() => normalize(tensor(set.images, [set.count, size]).to('float32')));
}

class PixelKnn implements FittedDetector {
  readonly method = 'pixel-knn';

  constructor(
    readonly bank: Tensor,
    readonly geometry: Geometry,
    readonly config: PixelKnnConfig,
  ) {}

  score(images: ImageSet): Float32Array {
    checkGeometry(images, this.geometry, 'pixel-knn');
    const f = pixelFeatures(images);
    try {
      return knnScores(f, this.bank, this.config.k);
    } finally {
      f.dispose();
    }
  }

  async save(path: string, extra: Record<string, unknown> = {}): Promise<void> {
    const metadata = { method: this.method, config: this.config, geometry: this.geometry, extra };
    await saveSafetensors(path, new Map([['score.bank', this.bank]]), {
      duiad: JSON.stringify(metadata),
    });
  }

  dispose(): void {
    this.bank.dispose();
  }
}

/** "Fits" the baseline: it keeps the normal images' normalised pixels. */
export async function fitPixelKnn(
  train: ImageSet,
  partial: Partial<PixelKnnConfig> = {},
): Promise<FittedDetector & { trainingSeconds: number }> {
  const config = { ...defaultPixelKnnConfig, ...partial };
  if (!Number.isInteger(config.k) || config.k < 1) {
    throw new ValueError(`pixel-knn: k must be a positive integer (got ${config.k})`);
  }
  if (train.count < 1) throw new ValueError('pixel-knn: needs at least one normal image');
  const started = performance.now();
  const { channels, height, width } = train;
  const geometry = { channels, height, width };
  const model = new PixelKnn(pixelFeatures(train), geometry, config);
  return Object.assign(model, { trainingSeconds: (performance.now() - started) / 1000 });
}
