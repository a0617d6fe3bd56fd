/**
 * kNN anomaly score: 1 minus the mean cosine similarity of an image's features to its k
 * nearest normal training features.
 */
import { ShapeError } from '../errors.js';
import { type Tensor, noGrad, tidy, topk } from '../torch/index.js';

/** Rows of the query matrix compared at once, bounding the similarity matrix's memory. */
const chunkRows = 1024;

/**
 * Scores of `queries [m, dim]` against `bank [n, dim]` (both L2-normalised): for each query,
 * 1 − mean of its k largest cosine similarities. Returns `[m]`.
 */
export function knnScores(queries: Tensor, bank: Tensor, k: number): Float32Array {
  if (queries.shape[1] !== bank.shape[1]) {
    throw new ShapeError(
      `knnScores: queries have ${queries.shape[1]} features, the bank has ${bank.shape[1]}`,
    );
  }
  const n = bank.shape[0] as number;
  const m = queries.shape[0] as number;
  const kk = Math.min(k, n);
  const out = new Float32Array(m);
  noGrad(() => {
    const bankT = bank.transpose(0, 1);
    for (let start = 0; start < m; start += chunkRows) {
      const rows = Math.min(chunkRows, m - start);
      const scores = tidy(() => {
        const sims = queries.narrow(0, start, rows).matmul(bankT);
        return topk(sims, kk, { dim: 1 }).values.mean([1]).neg().add(1).toFloat32();
      });
      out.set(scores, start);
    }
    bankT.dispose();
  });
  return out;
}
