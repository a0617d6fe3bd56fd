/**
 * Occlusion maps with a score whose answer is known: the score is the top-left pixel's
 * brightness, so only patches covering that pixel lower it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ImageSet } from '../../src/data/types.js';
import {
  checkMapScale,
  heat,
  mapScaleOf,
  occlusionGeometry,
  occlusionMaps,
} from '../../src/methods/occlusion.js';

function oneImage(pixels: number[], size: number): ImageSet {
  return {
    images: Uint8Array.from(pixels),
    labels: new Int32Array(1),
    count: 1,
    channels: 1,
    height: size,
    width: size,
  };
}

/** Score of each image: its top-left pixel / 255. */
const topLeft = (set: ImageSet) =>
  Float32Array.from({ length: set.count }, (_, i) => (set.images[i * 16] as number) / 255);

test('a patch covering the anomalous pixel gets its score drop, shared where patches overlap', () => {
  const image = oneImage([200, ...Array(15).fill(50)], 4);
  const s = 200 / 255;
  // Patch 2, stride 2: four patches, only the top-left one covers pixel (0, 0).
  const [tiled] = occlusionMaps(image, topLeft, { patch: 2, stride: 2, fill: [0] });
  const expected = [s, s, 0, 0, s, s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.deepEqual(
    Array.from(tiled ?? []).map((v) => +v.toFixed(6)),
    expected.map((v) => +v.toFixed(6)),
  );

  // Patch 2, stride 1: starts 0, 1, 2; pixel (0, 1) lies in two patches, one of which drops,
  // pixel (1, 1) in four, one of which drops.
  const [dense] = occlusionMaps(image, topLeft, { patch: 2, stride: 1, fill: [0] });
  const d = Array.from(dense ?? []);
  assert.ok(Math.abs((d[0] as number) - s) < 1e-6);
  assert.ok(Math.abs((d[1] as number) - s / 2) < 1e-6);
  assert.ok(Math.abs((d[5] as number) - s / 4) < 1e-6);
  assert.ok(Math.abs((d[2] as number) - 0) < 1e-6);
  assert.equal(d[15], 0);
});

test('a covering that raises the score counts as no drop', () => {
  const image = oneImage([100, ...Array(15).fill(50)], 4);
  const [map] = occlusionMaps(image, topLeft, { patch: 2, stride: 2, fill: [255] });
  assert.ok(Array.from(map ?? []).every((v) => v === 0));
});

test('map geometry, colour scale and heat', () => {
  assert.deepEqual(occlusionGeometry(32, 32), { patch: 8, stride: 4 });
  assert.deepEqual(occlusionGeometry(28, 40), { patch: 7, stride: 4 });
  assert.deepEqual(occlusionGeometry(4, 4), { patch: 2, stride: 1 });
  // 100 values 0.00 … 0.99: the 95th percentile is 0.95, the largest 0.99.
  const values = Float32Array.from({ length: 100 }, (_, i) => i / 100);
  const scale = mapScaleOf([values], { patch: 8, stride: 4 });
  assert.ok(Math.abs(scale.low - 0.95) < 1e-6 && Math.abs(scale.high - 1.98) < 1e-6);
  const h = heat(Float32Array.from([0, 0.95, 1.465, 1.98, 5]), scale);
  assert.deepEqual(
    Array.from(h).map((v) => +v.toFixed(4)),
    [0, 0, 0.5, 1, 1],
  );
  assert.throws(() => checkMapScale({ ...scale, patch: 33 }, { height: 32, width: 32 }), /patch/);
  assert.throws(
    () => checkMapScale({ ...scale, high: 0 }, { height: 32, width: 32 }),
    /high > low/,
  );
});

test('maps of many images, scored in groups, each belong to their own image', () => {
  const count = 11;
  const pixels = new Uint8Array(count * 16).fill(50);
  for (let i = 0; i < count; i++) pixels[i * 16] = 10 * i;
  const set: ImageSet = {
    ...oneImage([], 4),
    images: pixels,
    labels: new Int32Array(count),
    count,
  };
  const maps = occlusionMaps(set, topLeft, { patch: 2, stride: 2, fill: [0] });
  assert.equal(maps.length, count);
  maps.forEach((map, i) => {
    assert.ok(Math.abs((map[0] as number) - (10 * i) / 255) < 1e-6, `image ${i}`);
    assert.equal(map[15], 0);
  });
});
