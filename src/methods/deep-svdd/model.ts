/**
 * A fitted Deep SVDD model: the bias-free network and its centre; an image's anomaly score is
 * the squared distance of its representation to the centre.
 */
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { type Tensor, engineVersion, saveSafetensors, tidy } from '../../torch/index.js';
import type { FittedDetector } from '../detector.js';
import { duiadVersion } from '../duiad/model.js';
import { type Preprocessing, checkGeometry, encodeAll } from '../preprocess.js';
import type { DeepSvddConfig } from './config.js';
import type { DeepSvddNetwork } from './network.js';

/** What a DeepSvddModel is made of. */
export interface DeepSvddParts {
  net: DeepSvddNetwork;
  config: DeepSvddConfig;
  prep: Preprocessing;
  /** The centre `[features]`. */
  centre: Tensor;
  trainingSeconds: number;
}

export class DeepSvddModel implements FittedDetector {
  readonly method = 'deep-svdd';
  readonly net: DeepSvddNetwork;
  readonly config: DeepSvddConfig;
  readonly prep: Preprocessing;
  readonly centre: Tensor;
  readonly trainingSeconds: number;

  constructor(parts: DeepSvddParts) {
    this.net = parts.net.eval();
    this.config = parts.config;
    this.prep = parts.prep;
    this.centre = parts.centre;
    this.trainingSeconds = parts.trainingSeconds;
  }

  /** Squared distances `‖f(x) − c‖²`, one per image. */
  score(images: ImageSet): Float32Array {
    if (images.count === 0) return new Float32Array(0);
    checkImageSet(images, 'score');
    checkGeometry(images, this.prep, 'score');
    const z = encodeAll(this.net, images, { prep: this.prep });
    try {
      return tidy(() =>
        z
          .sub(this.centre.reshape([1, -1]))
          .pow(2)
          .sum([1])
          .toFloat32(),
      );
    } finally {
      z.dispose();
    }
  }

  /** Writes the weights and the centre, with the configuration and preprocessing as metadata. */
  async save(path: string, extra: Record<string, unknown> = {}): Promise<void> {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of this.net.stateDict()) tensors.set(`net.${name}`, t);
    tensors.set('score.centre', this.centre);
    const metadata = {
      method: this.method,
      config: this.config,
      preprocessing: this.prep,
      trainingSeconds: this.trainingSeconds,
      versions: { duiad: duiadVersion, libtorch: engineVersion() },
      extra,
    };
    await saveSafetensors(path, tensors, { duiad: JSON.stringify(metadata) });
  }

  dispose(): void {
    this.net.dispose();
    this.centre.dispose();
  }
}
