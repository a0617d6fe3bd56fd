/**
 * CIFAR-style ResNets (He et al. 2016, with a 3×3 stride-1 stem and no max-pool): basic
 * blocks in four stages, the last three halving the resolution. `[2,2,2,2]` blocks with
 * widths 64-128-256-512 is ResNet-18; smaller widths make fast CPU encoders.
 */
import { ValueError } from '../errors.js';
import {
  BatchNorm2d,
  Conv2d,
  Module,
  channelsLast,
  contiguous,
  globalAvgPool,
  type Generator,
  type Tensor,
  tidy,
} from '../torch/index.js';

/** Configuration of a CIFAR ResNet; see `resnetPresets` for named ones. */
export interface ResNetConfig {
  /** Image channels: 1 (grey) or 3 (RGB). */
  inChannels: number;
  /** Channels of the four stages. */
  widths: readonly number[];
  /** Basic blocks per stage. */
  blocks: readonly number[];
  /** Keep weights and activations channels-last (faster convolutions on CPU). */
  channelsLast?: boolean;
  /** Learn a scale and shift in batch norms (default true; false for a bias-free network). */
  affine?: boolean;
}

/** Named encoders: `resnet18` is the paper's; `small` and `tiny` fit a 2-core CPU budget. */
export const resnetPresets = {
  resnet18: { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2] },
  resnet34: { widths: [64, 128, 256, 512], blocks: [3, 4, 6, 3] },
  small: { widths: [32, 64, 128, 256], blocks: [1, 1, 1, 1] },
  tiny: { widths: [16, 32, 64, 128], blocks: [1, 1, 1, 1] },
} as const satisfies Record<string, Pick<ResNetConfig, 'widths' | 'blocks'>>;

export type ResNetPreset = keyof typeof resnetPresets;

/**
 * The configuration of a named preset with its stage widths scaled by `widthMultiplier`
 * (rounded, at least 1): `resnetConfig('resnet18', { inChannels: 3, widthMultiplier: 0.5 })`
 * has widths 32-64-128-256.
 */
export function resnetConfig(
  preset: ResNetPreset,
  options: { inChannels: number; widthMultiplier?: number; channelsLast?: boolean },
): ResNetConfig {
  const k = options.widthMultiplier ?? 1;
  if (!(Number.isFinite(k) && k > 0 && k <= 64)) {
    throw new ValueError(`resnet: widthMultiplier must be in (0, 64] (got ${k})`);
  }
  const { widths, blocks } = resnetPresets[preset];
  return {
    inChannels: options.inChannels,
    widths: widths.map((w) => Math.max(1, Math.round(w * k))),
    blocks,
    channelsLast: options.channelsLast ?? true,
  };
}

interface BlockOptions {
  stride: number;
  generator: Generator;
  channelsLast: boolean;
  affine: boolean;
}

/** Two 3×3 conv-BN layers with a residual connection (a 1×1 projection when shapes change). */
class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly shortcut: { conv: Conv2d; bn: BatchNorm2d } | null;

  constructor(inC: number, outC: number, options: BlockOptions) {
    super();
    const { stride, generator: g, channelsLast: cl, affine } = options;
    this.conv1 = this.child(
      'conv1',
      new Conv2d(inC, outC, 3, { stride, padding: 1, generator: g, channelsLast: cl }),
    );
    this.bn1 = this.child('bn1', new BatchNorm2d(outC, { affine }));
    this.conv2 = this.child(
      'conv2',
      new Conv2d(outC, outC, 3, { padding: 1, generator: g, channelsLast: cl }),
    );
    this.bn2 = this.child('bn2', new BatchNorm2d(outC, { affine }));
    this.shortcut =
      stride !== 1 || inC !== outC
        ? {
            conv: this.child(
              'shortcut.0',
              new Conv2d(inC, outC, 1, { stride, generator: g, channelsLast: cl }),
            ),
            bn: this.child('shortcut.1', new BatchNorm2d(outC, { affine })),
          }
        : null;
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.bn1.forward(this.conv1.forward(x)).relu();
      const y = this.bn2.forward(this.conv2.forward(h));
      const s = this.shortcut ? this.shortcut.bn.forward(this.shortcut.conv.forward(x)) : x;
      return y.add(s).relu();
    });
  }
}

/** Encoder `[batch, inChannels, h, w]` -> pooled features `[batch, widths[3]]`. */
export class ResNet extends Module {
  readonly config: ResNetConfig;
  readonly features: number;
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly stages: BasicBlock[][];

  constructor(config: ResNetConfig, generator: Generator) {
    super();
    checkConfig(config);
    this.config = config;
    const cl = config.channelsLast ?? true;
    const w0 = config.widths[0] as number;
    this.stem = this.child(
      'conv1',
      new Conv2d(config.inChannels, w0, 3, { padding: 1, generator, channelsLast: cl }),
    );
    const affine = config.affine ?? true;
    this.stemBn = this.child('bn1', new BatchNorm2d(w0, { affine }));
    let inC = w0;
    this.stages = config.widths.map((outC, s) =>
      Array.from({ length: config.blocks[s] as number }, (_, b) => {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const block = this.child(
          `layer${s + 1}.${b}`,
          new BasicBlock(inC, outC, { stride, generator, channelsLast: cl, affine }),
        );
        inC = outC;
        return block;
      }),
    );
    this.features = inC;
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      // Inputs follow the weights' layout, so no convolution mixes the two.
      const input = this.config.channelsLast === false ? contiguous(x) : channelsLast(x);
      let h = this.stemBn.forward(this.stem.forward(input)).relu();
      // Free each block's output once the next block has read it (autograd keeps what
      // backward needs by itself): under noGrad only about one block's activations live.
      for (const stage of this.stages) {
        for (const block of stage) {
          const next = block.forward(h);
          h.dispose();
          h = next;
        }
      }
      return globalAvgPool(h);
    });
  }
}

function checkConfig(config: ResNetConfig): void {
  if (config.widths.length !== 4 || config.blocks.length !== 4) {
    throw new ValueError(
      `resnet: widths and blocks must each list 4 stages (got ${config.widths.length} and ${config.blocks.length})`,
    );
  }
  const bad = [...config.widths, ...config.blocks].find(
    (v) => !Number.isInteger(v) || v < 1 || v > 4096,
  );
  if (bad !== undefined)
    throw new ValueError(`resnet: widths and blocks must be integers in [1, 4096] (got ${bad})`);
  if (config.inChannels !== 1 && config.inChannels !== 3) {
    throw new ValueError(`resnet: inChannels must be 1 or 3 (got ${config.inChannels})`);
  }
}
