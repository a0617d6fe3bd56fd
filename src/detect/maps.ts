/**
 * Anomaly maps as pictures: an occlusion map laid over its image in red, encoded as PNG.
 */
import sharp from 'sharp';

import type { InputSpec } from '../data/folder.js';

/** Share of a pixel's colour taken by red where the map is at full strength. */
const opacity = 0.7;

/**
 * PNG bytes of `image` (`[channels, height, width]` uint8, as decoded for the model) with
 * `heat` (`[height, width]`, each in [0, 1]) blended over it in red; RGB, the input's size.
 */
export async function overlayPng(
  image: Uint8Array,
  heat: Float32Array,
  input: Pick<InputSpec, 'channels' | 'height' | 'width'>,
): Promise<Uint8Array> {
  const plane = input.height * input.width;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    const a = opacity * (heat[p] ?? 0);
    for (let k = 0; k < 3; k++) {
      const value = image[(input.channels === 1 ? 0 : k) * plane + p] as number;
      const red = k === 0 ? 255 : 0;
      rgb[p * 3 + k] = Math.round((1 - a) * value + a * red);
    }
  }
  const png = await sharp(rgb, {
    raw: { width: input.width, height: input.height, channels: 3 },
  })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
