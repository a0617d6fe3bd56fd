/**
 * Occlusion anomaly maps: cover one square patch of an image at a time with the training
 * mean and see how much the anomaly score falls. A patch whose covering lowers the score
 * holds what made the image look anomalous. Works with any detector's score function.
 */
import type { ImageSet } from '../data/types.js';
import { ValueError } from '../errors.js';

/** How maps are made (patch geometry) and scaled to colours (from held-out normal images). */
export interface MapScale {
  /** Side of the square occluding patch and the step between patches, in pixels. */
  patch: number;
  stride: number;
  /** Map values at or below `low` show no colour; at `high` and above, full colour. */
  low: number;
  high: number;
}

/** Patch side and stride for images of `height × width`: a quarter of the side, half-overlapping. */
export function occlusionGeometry(
  height: number,
  width: number,
): { patch: number; stride: number } {
  const patch = Math.max(2, Math.round(Math.min(height, width) / 4));
  return { patch, stride: Math.max(1, Math.round(patch / 2)) };
}

/** Patch start offsets along a side of `size` pixels, the last one flush with the edge. */
function starts(size: number, patch: number, stride: number): number[] {
  const last = Math.max(0, size - patch);
  const out: number[] = [];
  for (let s = 0; s < last; s += stride) out.push(s);
  out.push(last);
  return out;
}

/** Images whose occluded copies are scored in one call, bounding the batch's memory. */
const imagesPerCall = 8;

/**
 * Occlusion maps of every image of `set`: `[count, height, width]` floats, each pixel the mean
 * over the patches covering it of max(0, score − score with the patch covered). `fill[c]` is
 * the value (0..255) a covered pixel of channel c takes. `score` scores an ImageSet.
 */
export function occlusionMaps(
  set: ImageSet,
  score: (images: ImageSet) => Float32Array,
  options: { patch: number; stride: number; fill: readonly number[] },
): Float32Array[] {
  const { channels: c, height: h, width: w } = set;
  const bytes = c * h * w;
  const ys = starts(h, options.patch, options.stride);
  const xs = starts(w, options.patch, options.stride);
  const views = ys.length * xs.length + 1;
  const maps: Float32Array[] = [];
  for (let first = 0; first < set.count; first += imagesPerCall) {
    const group = Math.min(imagesPerCall, set.count - first);

    // Per image: the image itself, then one copy per patch position with that patch covered.
    const batch = new Uint8Array(group * views * bytes);
    for (let g = 0; g < group; g++) {
      const image = set.images.subarray((first + g) * bytes, (first + g + 1) * bytes);
      let v = g * views;
      batch.set(image, v++ * bytes);
      for (const y0 of ys) {
        for (const x0 of xs) {
          batch.set(image, v * bytes);
          const at = { c, h, w, y0, x0, size: options.patch };
          coverPatch(batch.subarray(v++ * bytes), at, options.fill);
        }
      }
    }
    const count = group * views;
    const scores = score({ ...set, images: batch, labels: new Int32Array(count), count });
    for (let g = 0; g < group; g++) {
      maps.push(spread(scores.subarray(g * views, (g + 1) * views), { h, w, ys, xs, ...options }));
    }
  }
  return maps;
}

/** Spreads each patch's score drop over its pixels and averages where patches overlap. */
function spread(
  scores: Float32Array,
  at: { h: number; w: number; ys: number[]; xs: number[]; patch: number },
): Float32Array {
  const { h, w, patch } = at;
  const sum = new Float32Array(h * w);
  const hits = new Float32Array(h * w);
  let v = 1;
  for (const y0 of at.ys) {
    for (const x0 of at.xs) {
      const drop = Math.max(0, (scores[0] as number) - (scores[v++] as number));
      for (let y = y0; y < Math.min(h, y0 + patch); y++) {
        for (let x = x0; x < Math.min(w, x0 + patch); x++) {
          sum[y * w + x] = (sum[y * w + x] as number) + drop;
          hits[y * w + x] = (hits[y * w + x] as number) + 1;
        }
      }
    }
  }
  return sum.map((s, p) => s / Math.max(1, hits[p] as number));
}

function coverPatch(
  image: Uint8Array,
  at: { c: number; h: number; w: number; y0: number; x0: number; size: number },
  fill: readonly number[],
): void {
  const { c, h, w, y0, x0, size } = at;
  for (let k = 0; k < c; k++) {
    const value = Math.round(fill[k] ?? 0);
    for (let y = y0; y < Math.min(h, y0 + size); y++) {
      image.fill(value, k * h * w + y * w + x0, k * h * w + y * w + Math.min(w, x0 + size));
    }
  }
}

/**
 * The colour scale of maps from held-out normal images: `low` is the 95th percentile of their
 * pixel values (so most of a normal map shows nothing) and `high` twice their largest value.
 */
export function mapScaleOf(
  normalMaps: readonly Float32Array[],
  geometry: { patch: number; stride: number },
): MapScale {
  const values = Float64Array.from(normalMaps.flatMap((m) => Array.from(m))).sort();
  if (values.length === 0) throw new ValueError('occlusion: no normal maps to scale by');
  const low = values[Math.min(values.length - 1, Math.floor(0.95 * values.length))] as number;
  const max = values[values.length - 1] as number;
  return { ...geometry, low, high: Math.max(2 * max, low + 1e-6) };
}

/** Map values to colour strengths in [0, 1] by `scale`. */
export function heat(map: Float32Array, scale: Pick<MapScale, 'low' | 'high'>): Float32Array {
  return map.map((v) => Math.min(1, Math.max(0, (v - scale.low) / (scale.high - scale.low))));
}

/** Throws ValueError unless `value` is a MapScale usable on `geometry`-sized images. */
export function checkMapScale(
  value: unknown,
  geometry: { height: number; width: number },
): MapScale {
  const m = value as Partial<MapScale> | null;
  if (m === null || typeof m !== 'object') throw new ValueError('anomalyMaps is not an object');
  const { patch, stride, low, high } = m;
  const side = Math.min(geometry.height, geometry.width);
  if (!Number.isInteger(patch) || (patch as number) < 1 || (patch as number) > side) {
    throw new ValueError(
      `anomalyMaps patch must be an integer from 1 to ${side} (got ${String(patch)})`,
    );
  }
  if (!Number.isInteger(stride) || (stride as number) < 1 || (stride as number) > side) {
    throw new ValueError(
      `anomalyMaps stride must be an integer from 1 to ${side} (got ${String(stride)})`,
    );
  }
  if (
    typeof low !== 'number' ||
    typeof high !== 'number' ||
    !Number.isFinite(low) ||
    !(high > low)
  ) {
    throw new ValueError('anomalyMaps low and high must be finite numbers with high > low');
  }
  return { patch: patch as number, stride: stride as number, low, high };
}
