/**
 * Seeded, batched image augmentations on `[batch, channels, height, width]` float tensors
 * with values in [0, 1]. Every random draw comes from the given Generator, so a seed fixes
 * the augmented views. Geometry (crop, flip) is one affine resampling per batch; colour
 * operations are skipped for one-channel images.
 */
import { ValueError } from '../errors.js';
import {
  type Generator,
  type Tensor,
  affineWarp,
  rand,
  tensor,
  tidy,
  where,
} from '../torch/index.js';

/** Augmentation settings; `defaultAugmentConfig` holds the defaults. */
export interface AugmentConfig {
  /** Random resized crop: range of the crop's area as a share of the image. */
  cropScale: readonly [number, number];
  /** Random resized crop: range of the crop's aspect ratio (width / height). */
  cropRatio: readonly [number, number];
  /** Probability of a horizontal flip. */
  flip: number;
  /** Probability of applying colour jitter to an image (RGB only). */
  jitterProbability: number;
  /** Strength of brightness, contrast and saturation jitter: factors in [1 - s, 1 + s]. */
  brightness: number;
  contrast: number;
  saturation: number;
  /** Probability of converting an image to grey (RGB only). */
  grayscale: number;
}

/** SimCLR-style defaults (crop 0.2–1 of the area, flips, strong colour jitter). */
export const defaultAugmentConfig: Readonly<AugmentConfig> = {
  cropScale: [0.2, 1],
  cropRatio: [3 / 4, 4 / 3],
  flip: 0.5,
  jitterProbability: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  grayscale: 0.2,
};

/** Checks ranges and probabilities; throws ValueError naming the first bad field. */
export function checkAugmentConfig(config: AugmentConfig): void {
  for (const key of ['cropScale', 'cropRatio'] as const) {
    const range: unknown = config[key];
    if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number')) {
      throw new ValueError(
        `augment: ${key} must be two numbers [min, max] (got ${JSON.stringify(range)})`,
      );
    }
  }
  const [s0, s1] = config.cropScale;
  const [r0, r1] = config.cropRatio;
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) {
    throw new ValueError(
      `augment: cropScale must satisfy 0 < min <= max <= 1 (got [${s0}, ${s1}])`,
    );
  }
  if (!(r0 > 0 && r0 <= r1 && Number.isFinite(r1))) {
    throw new ValueError(`augment: cropRatio must satisfy 0 < min <= max (got [${r0}, ${r1}])`);
  }
  for (const key of ['flip', 'jitterProbability', 'grayscale'] as const) {
    const p = config[key];
    if (!(p >= 0 && p <= 1))
      throw new ValueError(`augment: ${key} must be a probability (got ${p})`);
  }
  for (const key of ['brightness', 'contrast', 'saturation'] as const) {
    const s = config[key];
    if (!(s >= 0 && s <= 1)) throw new ValueError(`augment: ${key} must be in [0, 1] (got ${s})`);
  }
}

/**
 * Affine matrices `[batch, 2, 3]` mapping output to input coordinates (both in [-1, 1]) for a
 * random resized crop with an optional horizontal flip per image.
 */
export function cropFlipThetas(batch: number, config: AugmentConfig, generator: Generator): Tensor {
  const u = tidy(() => rand([batch, 5], generator).toFloat32());
  const theta = new Float32Array(batch * 6);
  const [s0, s1] = config.cropScale;
  const [lr0, lr1] = [Math.log(config.cropRatio[0]), Math.log(config.cropRatio[1])];
  for (let i = 0; i < batch; i++) {
    const [a = 0, b = 0, c = 0, d = 0, e = 0] = u.subarray(5 * i, 5 * i + 5);
    const area = s0 + (s1 - s0) * a;
    const ratio = Math.exp(lr0 + (lr1 - lr0) * b);
    // Side lengths as shares of the image; a crop wider or taller than the image is clipped.
    const w = Math.min(1, Math.sqrt(area * ratio));
    const h = Math.min(1, Math.sqrt(area / ratio));
    const flip = d < config.flip ? -1 : 1;
    const cx = (1 - w) * (2 * c - 1);
    const cy = (1 - h) * (2 * e - 1);
    theta.set([w * flip, 0, cx, 0, h, cy], 6 * i);
  }
  return tensor(theta, [batch, 2, 3]);
}

/** Luma of RGB images `[batch, 3, h, w]` -> `[batch, 1, h, w]` (ITU-R BT.601 weights). */
export function luma(images: Tensor): Tensor {
  return tidy(() => {
    const w = tensor(new Float32Array([0.299, 0.587, 0.114]), [1, 3, 1, 1]);
    return images.mul(w).sum([1], true);
  });
}

/** Per-image factors in [1 - s, 1 + s], or exactly 1 where `active` is 0: `[batch, 1, 1, 1]`. */
function factors(batch: number, strength: number, active: Tensor, g: Generator): Tensor {
  return tidy(() =>
    rand([batch, 1, 1, 1], g)
      .mul(2 * strength)
      .sub(strength)
      .mul(active)
      .add(1),
  );
}

/** Brightness, contrast and saturation jitter plus random greyscale for RGB images. */
function colour(x: Tensor, config: AugmentConfig, g: Generator): Tensor {
  return tidy(() => {
    const batch = x.shape[0] as number;
    const on = rand([batch, 1, 1, 1], g).lt(config.jitterProbability).to('float32');
    let y = x.mul(factors(batch, config.brightness, on, g)).clamp(0, 1);
    const mean = luma(y).mean([1, 2, 3], true);
    y = y
      .sub(mean)
      .mul(factors(batch, config.contrast, on, g))
      .add(mean)
      .clamp(0, 1);
    const grey = luma(y);
    y = y
      .sub(grey)
      .mul(factors(batch, config.saturation, on, g))
      .add(grey)
      .clamp(0, 1);
    const toGrey = rand([batch, 1, 1, 1], g).lt(config.grayscale);
    return where(toGrey, luma(y), y);
  });
}

/**
 * One random view of each image: random resized crop, horizontal flip and (RGB only) colour
 * jitter and greyscale. Input and output are `[batch, channels, height, width]` in [0, 1].
 */
export function augment(images: Tensor, config: AugmentConfig, generator: Generator): Tensor {
  return tidy(() => {
    const batch = images.shape[0] as number;
    const geometric = affineWarp(images, cropFlipThetas(batch, config, generator), {
      paddingMode: 'border',
    });
    return images.shape[1] === 3 ? colour(geometric, config, generator) : geometric;
  });
}
