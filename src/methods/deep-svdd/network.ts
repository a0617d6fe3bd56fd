/**
 * The Deep SVDD network: bias-free, so that it cannot map every image to the centre by
 * zeroing its weights and keeping a bias (the "hypersphere collapse" of Ruff et al.). Three
 * 5×5 conv stages, batch norms without a learned shift, leaky ReLU, 2×2 max-pools, then a
 * bias-free linear map to the representation.
 */
import {
  BatchNorm2d,
  Conv2d,
  type Generator,
  Linear,
  Module,
  type Tensor,
  maxPool2d,
  tidy,
} from '../../torch/index.js';

/** Shape of the network: image geometry, stage widths and representation size. */
export interface DeepSvddNetworkConfig {
  inChannels: number;
  height: number;
  width: number;
  widths: readonly [number, number, number];
  features: number;
}

/** Negative slope of the leaky ReLUs. */
const slope = 0.1;

export class DeepSvddNetwork extends Module {
  readonly convs: Conv2d[];
  readonly norms: BatchNorm2d[];
  readonly head: Linear;

  constructor(config: DeepSvddNetworkConfig, generator: Generator) {
    super();
    let inC = config.inChannels;
    let h = config.height;
    let w = config.width;
    this.convs = [];
    this.norms = [];
    config.widths.forEach((outC, i) => {
      this.convs.push(
        this.child(`conv${i + 1}`, new Conv2d(inC, outC, 5, { padding: 2, generator })),
      );
      this.norms.push(
        this.child(`bn${i + 1}`, new BatchNorm2d(outC, { affine: false, eps: 1e-4 })),
      );
      inC = outC;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    });
    this.head = this.child(
      'head',
      new Linear(inC * h * w, config.features, { bias: false, generator }),
    );
  }

  /** Representations `[batch, features]` of `[batch, channels, height, width]` images. */
  forward(images: Tensor): Tensor {
    return tidy(() => {
      let x = images;
      for (let i = 0; i < this.convs.length; i++) {
        const y = (this.norms[i] as BatchNorm2d).forward((this.convs[i] as Conv2d).forward(x));
        x = maxPool2d(y.relu().sub(y.neg().relu().mul(slope)), 2);
      }
      return this.head.forward(x.flatten(1));
    });
  }
}
