/**
 * The DUIAD network: a CIFAR ResNet encoder and a two-layer projection head. Anomaly scores
 * use the encoder's pooled features; InfoNCE uses the projection.
 */
import { type ResNetPreset, ResNet, resnetPresets } from '../../models/resnet.js';
import { type Generator, Linear, Module, type Tensor, tidy } from '../../torch/index.js';

/** Shape of the network: encoder preset, image channels and projection size. */
export interface DuiadNetworkConfig {
  encoder: ResNetPreset;
  inChannels: number;
  projectionDim: number;
  /** Channels-last weights and activations (default true; see `DuiadConfig.channelsLast`). */
  channelsLast?: boolean;
}

export class DuiadNetwork extends Module {
  readonly encoder: ResNet;
  readonly head1: Linear;
  readonly head2: Linear;
  /** Classifies which of four right-angle rotations an image underwent (rotation MI term). */
  readonly rotationHead: Linear;

  constructor(config: DuiadNetworkConfig, generator: Generator) {
    super();
    const preset = resnetPresets[config.encoder];
    this.encoder = this.child(
      'encoder',
      new ResNet(
        { inChannels: config.inChannels, ...preset, channelsLast: config.channelsLast ?? true },
        generator,
      ),
    );
    const f = this.encoder.features;
    this.head1 = this.child('head.0', new Linear(f, f, { generator }));
    this.head2 = this.child('head.2', new Linear(f, config.projectionDim, { generator }));
    this.rotationHead = this.child('rotation', new Linear(f, 4, { generator }));
  }

  /** Pooled encoder features `[batch, features]` of `[batch, channels, height, width]` images. */
  forward(images: Tensor): Tensor {
    return this.encoder.forward(images);
  }

  /** Projection `[batch, projectionDim]` of encoder features `[batch, features]`. */
  project(features: Tensor): Tensor {
    return tidy(() => this.head2.forward(this.head1.forward(features).relu()));
  }
}
