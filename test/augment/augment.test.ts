/**
 * Augmentations: seeded determinism, value ranges, the geometry of crops and flips, and
 * colour operations skipped for one-channel images.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  type AugmentConfig,
  augment,
  checkAugmentConfig,
  cropFlipThetas,
  defaultAugmentConfig,
  luma,
} from '../../src/augment/augment.js';
import { ValueError } from '../../src/errors.js';
import { Generator, liveTensors, rand, tensor, tidy } from '../../src/torch/index.js';

/** Only geometry: the whole image (area 1, aspect 1), flipped with probability `flip`. */
const geometryOnly = (flip: number): AugmentConfig => ({
  ...defaultAugmentConfig,
  cropScale: [1, 1],
  cropRatio: [1, 1],
  flip,
  jitterProbability: 0,
  grayscale: 0,
});

test('the same seed gives the same views; another seed other views', () => {
  tidy(() => {
    const images = rand([8, 3, 12, 12], new Generator(5));
    const a = augment(images, defaultAugmentConfig, new Generator(1)).toFloat32();
    const b = augment(images, defaultAugmentConfig, new Generator(1)).toFloat32();
    const c = augment(images, defaultAugmentConfig, new Generator(2)).toFloat32();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

test('views keep the shape and stay within [0, 1]', () => {
  tidy(() => {
    for (const channels of [1, 3]) {
      const images = rand([16, channels, 10, 14], new Generator(3));
      const view = augment(images, defaultAugmentConfig, new Generator(4));
      assert.deepEqual(view.shape, [16, channels, 10, 14]);
      const values = view.toFloat32();
      assert.ok(values.every((v) => v >= -1e-6 && v <= 1 + 1e-6));
    }
  });
});

test('a full-size crop without flips is the identity; flip probability 1 mirrors', () => {
  tidy(() => {
    // One 1×2×4 image: rows [0, 0.25, 0.5, 0.75] and [1, 0.8, 0.6, 0.4].
    const pixels = [0, 0.25, 0.5, 0.75, 1, 0.8, 0.6, 0.4];
    const image = tensor(Float32Array.from(pixels), [1, 1, 2, 4]);
    const same = augment(image, geometryOnly(0), new Generator(0)).toFloat32();
    same.forEach((v, i) => assert.ok(Math.abs(v - (pixels[i] as number)) < 1e-6));
    const mirrored = augment(image, geometryOnly(1), new Generator(0)).toFloat32();
    const expected = [0.75, 0.5, 0.25, 0, 0.4, 0.6, 0.8, 1];
    mirrored.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-6));
  });
});

test('crop matrices respect the area and aspect ranges and stay inside the image', () => {
  tidy(() => {
    const config: AugmentConfig = { ...defaultAugmentConfig, cropScale: [0.25, 0.5], flip: 0.5 };
    const theta = cropFlipThetas(500, config, new Generator(9)).toFloat32();
    let flips = 0;
    for (let i = 0; i < 500; i++) {
      const [sx, shear1, cx, shear2, sy, cy] = theta.subarray(6 * i, 6 * i + 6);
      const [w, h] = [Math.abs(sx as number), sy as number];
      if ((sx as number) < 0) flips++;
      assert.equal(shear1, 0);
      assert.equal(shear2, 0);
      // Area share w·h within [0.25, 0.5] unless a side was clipped at the image's edge.
      if (w < 1 && h < 1) assert.ok(w * h >= 0.25 - 1e-5 && w * h <= 0.5 + 1e-5, `area ${w * h}`);
      assert.ok(w / h >= 3 / 4 - 1e-4 && w / h <= 4 / 3 + 1e-4, `ratio ${w / h}`);
      assert.ok(Math.abs(cx as number) <= 1 - w + 1e-6 && Math.abs(cy as number) <= 1 - h + 1e-6);
    }
    assert.ok(flips > 200 && flips < 300, `${flips} flips of 500`);
  });
});

test('colour jitter and greyscale touch RGB images only', () => {
  tidy(() => {
    const colourOnly: AugmentConfig = { ...geometryOnly(0), jitterProbability: 1, grayscale: 1 };
    const grey = rand([4, 1, 6, 6], new Generator(1));
    const greyOut = augment(grey, colourOnly, new Generator(2)).toFloat32();
    const greyIn = grey.toFloat32();
    greyOut.forEach((v, i) => assert.ok(Math.abs(v - (greyIn[i] as number)) < 1e-6));
    const rgb = rand([4, 3, 6, 6], new Generator(1));
    const out = augment(rgb, colourOnly, new Generator(2));
    // With greyscale probability 1 every channel equals the image's luma.
    const l = luma(out).toFloat32();
    const values = out.toFloat32();
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 36; p++) {
          const v = values[(i * 3 + c) * 36 + p] as number;
          assert.ok(Math.abs(v - (l[i * 36 + p] as number)) < 1e-5);
        }
      }
    }
  });
});

test('bad settings are refused by name, and augmenting leaks nothing', () => {
  const bad: [Partial<AugmentConfig>, RegExp][] = [
    [{ cropScale: [0, 1] }, /cropScale/],
    [{ cropScale: [0.8, 0.2] }, /cropScale/],
    [{ cropRatio: [2, 1] }, /cropRatio/],
    [{ flip: 1.5 }, /flip must be a probability/],
    [{ brightness: Number.NaN }, /brightness/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => checkAugmentConfig({ ...defaultAugmentConfig, ...change }),
      (e: unknown) => e instanceof ValueError && message.test(e.message),
    );
  }
  const before = liveTensors();
  tidy(() => {
    augment(rand([4, 3, 8, 8]), defaultAugmentConfig, new Generator(0));
  });
  assert.equal(liveTensors(), before);
});
