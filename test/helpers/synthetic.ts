/**
 * Generated grey images for detector tests: a normal pattern on dark noise, or pure noise.
 */
import type { ImageSet } from '../../src/data/types.js';

/** Normal patterns: a centred bright square, or an "L" whose orientation is recognisable. */
export type Pattern = 'square' | 'ell' | 'noise';

function inPattern(kind: Pattern, y: number, x: number): boolean {
  if (kind === 'square') return y >= 4 && y < 12 && x >= 4 && x < 12;
  if (kind === 'ell')
    return (x >= 3 && x < 6 && y >= 2 && y < 14) || (y >= 11 && y < 14 && x >= 3 && x < 13);
  return false;
}

/** `count` 1×16×16 images of `kind`, reproducible from `seed`. */
export function syntheticImages(count: number, kind: Pattern, seed: number): ImageSet {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pixels = new Uint8Array(count * 256);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 256; p++) {
      const [y, x] = [Math.floor(p / 16), p % 16];
      pixels[i * 256 + p] = inPattern(kind, y, x)
        ? 200 + random() * 55
        : random() * (kind === 'noise' ? 255 : 40);
    }
  }
  return {
    images: pixels,
    labels: new Int32Array(count),
    count,
    channels: 1,
    height: 16,
    width: 16,
  };
}

/** `a` followed by `b` (same geometry). */
export function concatImages(a: ImageSet, b: ImageSet): ImageSet {
  const pixels = new Uint8Array(a.images.length + b.images.length);
  pixels.set(a.images);
  pixels.set(b.images, a.images.length);
  return {
    ...a,
    images: pixels,
    labels: new Int32Array(a.count + b.count),
    count: a.count + b.count,
  };
}
