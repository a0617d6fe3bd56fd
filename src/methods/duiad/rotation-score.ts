/**
 * The rotation score (GEOM-style, four right-angle rotations): an image is normal when the
 * rotation classifier, trained on normal images only, recognises each rotation of it surely.
 * Score = mean over the four rotations r of −log p(r | image rotated by r).
 */
import type { ImageSet } from '../../data/types.js';
import { type Tensor, logSoftmax, noGrad, rot90, tidy } from '../../torch/index.js';
import { type Preprocessing, imageBatch, standardise } from '../preprocess.js';
import type { DuiadNetwork } from './network.js';

/** Images scored per forward pass (times four rotations). */
const batchSize = 250;

/** Rotation scores `[count]` of `images`; higher = more anomalous. `net` must be in eval mode. */
export function rotationScores(
  net: DuiadNetwork,
  images: ImageSet,
  prep: Preprocessing,
): Float32Array {
  const out = new Float32Array(images.count);
  noGrad(() => {
    for (let start = 0; start < images.count; start += batchSize) {
      const rows = Math.min(batchSize, images.count - start);
      out.set(
        tidy(() => batchScores(net, imageBatch(images, start, rows), prep)),
        start,
      );
    }
  });
  return out;
}

function batchScores(net: DuiadNetwork, batch: Tensor, prep: Preprocessing): Float32Array {
  const rows = batch.shape[0] as number;
  let total: Tensor | null = null;
  for (let r = 0; r < 4; r++) {
    const logits = net.rotationHead.forward(
      net.forward(standardise(rot90(batch, r, [2, 3]), prep)),
    );
    const nll = logSoftmax(logits, 1).narrow(1, r, 1).reshape([rows]).neg();
    total = total ? total.add(nll) : nll;
  }
  return (total as Tensor).div(4).toFloat32();
}
