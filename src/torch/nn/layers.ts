/**
 * Standard layers: Conv2d, BatchNorm2d, Linear, ReLU, Sequential. Initialisation follows
 * PyTorch's ResNet practice (He-normal, fan-out, for convolutions; uniform ±1/sqrt(fanIn)
 * for linear layers) and uses the given Generator, so a seed fixes the weights.
 */
import {
  Generator,
  batchNorm,
  channelsLast,
  conv2d,
  linear,
  normalInit,
  ones,
  uniformInit,
  zeros,
} from '../ops.js';
import { Tensor } from '../tensor.js';
import { Module } from './module.js';

/** Options of Conv2d. */
export interface Conv2dConfig {
  stride?: number;
  padding?: number;
  bias?: boolean;
  /** Store the weight in channels-last order (faster on CPU with channels-last inputs). */
  channelsLast?: boolean;
  generator?: Generator;
}

/** 2-D convolution with a square kernel: `[batch, in, h, w]` -> `[batch, out, h', w']`. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;

  constructor(inChannels: number, outChannels: number, kernel: number, config: Conv2dConfig = {}) {
    super();
    this.stride = config.stride ?? 1;
    this.padding = config.padding ?? 0;
    let w = zeros([outChannels, inChannels, kernel, kernel]);
    normalInit(w, 0, Math.sqrt(2 / (outChannels * kernel * kernel)), config.generator);
    if (config.channelsLast) {
      const cl = channelsLast(w);
      w.dispose();
      w = cl;
    }
    this.weight = this.parameter('weight', w);
    this.bias = config.bias ? this.parameter('bias', zeros([outChannels])) : null;
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

/** Batch normalisation over channels of `[batch, channels, h, w]`, with running statistics. */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    channels: number,
    readonly config: { momentum?: number; eps?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = config.affine ?? true;
    this.weight = affine ? this.parameter('weight', ones([channels])) : null;
    this.bias = affine ? this.parameter('bias', zeros([channels])) : null;
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', ones([channels]));
  }

  forward(input: Tensor): Tensor {
    return batchNorm(input, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.config.momentum ?? 0.1,
      eps: this.config.eps ?? 1e-5,
    });
  }
}

/** Affine map `[..., in]` -> `[..., out]`. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    inFeatures: number,
    outFeatures: number,
    config: { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const w = zeros([outFeatures, inFeatures]);
    uniformInit(w, -bound, bound, config.generator);
    this.weight = this.parameter('weight', w);
    if (config.bias ?? true) {
      const b = zeros([outFeatures]);
      uniformInit(b, -bound, bound, config.generator);
      this.bias = this.parameter('bias', b);
    } else {
      this.bias = null;
    }
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }
}

/** Elementwise max(0, x). */
export class ReLU extends Module {
  forward(input: Tensor): Tensor {
    return input.relu();
  }
}

/** Runs its children in order; intermediate outputs are freed. */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(layers: readonly Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.child(String(i), m));
  }

  forward(input: Tensor): Tensor {
    let x = input;
    for (const layer of this.layers) {
      const y = layer.forward(x);
      if (x !== input) x.dispose();
      x = y;
    }
    return x;
  }
}
