/**
 * The DUIAD objective (docs/DESIGN.md, section 1): minimise L = L_mi + beta * L_entropy, where
 * L_mi is the InfoNCE loss (I(X;Z) >= log N - L_nce) and L_entropy estimates H(Z) of the
 * normal codes.
 */
import { ShapeError } from '../../errors.js';
import {
  type Tensor,
  cat,
  crossEntropy,
  eye,
  logdet,
  normalize,
  rot90,
  tensor,
  tidy,
} from '../../torch/index.js';
import type { EntropyEstimator } from './config.js';

/**
 * NT-Xent loss of two views `z1, z2 [batch, dim]`: each code must pick its partner among the
 * other 2·batch − 1 codes by cosine similarity / temperature.
 */
export function infoNce(z1: Tensor, z2: Tensor, temperature: number): Tensor {
  const batch = z1.shape[0] as number;
  if (z1.shape.join() !== z2.shape.join() || z1.rank !== 2) {
    throw new ShapeError(
      `infoNce: views must both be [batch, dim] (got [${z1.shape}] and [${z2.shape}])`,
    );
  }
  return tidy(() => {
    const z = normalize(cat([z1, z2], 0));
    // Self-similarity is removed by subtracting a large constant on the diagonal.
    const logits = z
      .matmul(z.transpose(0, 1))
      .div(temperature)
      .sub(eye(2 * batch).mul(1e9));
    return crossEntropy(logits, partners(batch));
  });
}

/** Index of each code's other view in `cat([z1, z2])`: i -> (i + batch) mod 2·batch. */
function partners(batch: number): Tensor {
  const index = new BigInt64Array(2 * batch);
  for (let i = 0; i < 2 * batch; i++) index[i] = BigInt((i + batch) % (2 * batch));
  return tensor(index, [2 * batch]);
}

/**
 * Entropy surrogate of features `[batch, dim]` (normalised to the unit sphere first):
 * - `vmf`: 1 − R, with R the length of the mean unit vector (a von Mises–Fisher fit's
 *   entropy falls as R grows);
 * - `center`: mean (1 − cos(z, centre)) around a fixed centre `[dim]`;
 * - `gaussian`: 0.5 · logdet(Cov(z) + eps·I) / dim, the Gaussian upper bound per dimension.
 */
export function entropyLoss(
  features: Tensor,
  estimator: EntropyEstimator,
  centre?: Tensor,
): Tensor {
  return tidy(() => {
    const z = normalize(features);
    if (estimator === 'vmf') return z.mean([0]).pow(2).sum().add(1e-12).sqrt().neg().add(1);
    if (estimator === 'center') {
      if (!centre) throw new ShapeError('entropyLoss: the center estimator needs a centre');
      return z
        .mul(normalize(centre.reshape([1, -1])))
        .sum([1])
        .mean()
        .neg()
        .add(1);
    }
    const n = z.shape[0] as number;
    const d = z.shape[1] as number;
    const centred = z.sub(z.mean([0], true));
    const cov = centred
      .transpose(0, 1)
      .matmul(centred)
      .div(Math.max(1, n - 1));
    return logdet(cov.add(eye(d).mul(1e-4))).mul(0.5 / d);
  });
}

/**
 * Rotates contiguous quarters of a batch `[batch, channels, side, side]` by 0, 90, 180 and
 * 270 degrees; returns the rotated batch and the int64 rotation labels `[batch]`. Batches
 * arrive in random order, so each image's rotation is random.
 */
export function rotateQuarters(images: Tensor): { images: Tensor; labels: Tensor } {
  const [batch = 0, , height, width] = images.shape;
  if (height !== width) {
    throw new ShapeError(`rotateQuarters: images must be square (got ${height}×${width})`);
  }
  const labels = new BigInt64Array(batch);
  const rotated = tidy(() => {
    const parts: Tensor[] = [];
    for (let k = 0; k < 4; k++) {
      const start = Math.floor((k * batch) / 4);
      const end = Math.floor(((k + 1) * batch) / 4);
      if (end === start) continue;
      labels.fill(BigInt(k), start, end);
      parts.push(rot90(images.narrow(0, start, end - start), k, [2, 3]));
    }
    return cat(parts, 0);
  });
  return { images: rotated, labels: tensor(labels, [batch]) };
}
