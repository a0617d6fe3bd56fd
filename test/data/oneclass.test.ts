import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readIdxDataset } from '../../src/data/idx.js';
import { classCounts, oneClassSplit, subset } from '../../src/data/oneclass.js';
import type { ImageSet } from '../../src/data/types.js';
import { ShapeError, ValueError } from '../../src/errors.js';
import { fashionMnistDir, fashionMnistHint, requireData } from '../helpers/data.js';

/** `count` 1x2x2 images; image i's pixels are all `10 * i`, its label `labels[i]`. */
function tinySet(labels: number[]): ImageSet {
  const images = Uint8Array.from({ length: labels.length * 4 }, (_, p) => 10 * Math.floor(p / 4));
  return {
    images,
    labels: Int32Array.from(labels),
    count: labels.length,
    channels: 1,
    height: 2,
    width: 2,
  };
}

test('oneClassSplit: keeps normal training images in order, flags other test labels', () => {
  const train = tinySet([2, 0, 2, 1, 2]);
  const testSet = tinySet([0, 2, 1, 2]);
  const split = oneClassSplit(train, testSet, 2);
  assert.equal(split.train.count, 3);
  assert.deepEqual(Array.from(split.train.labels), [2, 2, 2]);
  // Images 0, 2 and 4 of train: pixels 0, 20, 40.
  assert.deepEqual(Array.from(split.train.images), [0, 0, 0, 0, 20, 20, 20, 20, 40, 40, 40, 40]);
  assert.deepEqual([split.train.channels, split.train.height, split.train.width], [1, 2, 2]);
  assert.equal(split.test, testSet);
  assert.deepEqual(split.testIsAnomaly, Uint8Array.from([1, 0, 1, 0]));
});

test('oneClassSplit: an absent normal class is a ValueError listing the classes present', () => {
  assert.throws(
    () => oneClassSplit(tinySet([3, 1, 1]), tinySet([1]), 7),
    (error: unknown) => {
      assert.ok(error instanceof ValueError);
      assert.equal(error.code, 'E_VALUE');
      assert.equal(
        error.message,
        'oneClassSplit: normal class 7 is not in the training labels (classes present: 1, 3)',
      );
      return true;
    },
  );
});

test('oneClassSplit: inconsistent sets are ShapeErrors', () => {
  const broken = { ...tinySet([0, 1]), count: 3 };
  assert.throws(
    () => oneClassSplit(broken, tinySet([0]), 0),
    (error: unknown) => {
      assert.ok(error instanceof ShapeError);
      assert.equal(error.code, 'E_SHAPE');
      assert.match(
        error.message,
        /^oneClassSplit: train: images has 8 bytes \(expected 12 for \[3, 1, 2, 2\]\)/,
      );
      return true;
    },
  );
  const wide = { ...tinySet([0]), images: new Uint8Array(6), width: 3 };
  assert.throws(() => oneClassSplit(tinySet([0]), wide, 0), {
    name: 'ShapeError',
    message: 'oneClassSplit: train images are [1, 2, 2] but test images are [1, 2, 3]',
  });
});

test('subset: picks images in the given order and rejects bad indices', () => {
  const set = tinySet([5, 6, 7]);
  const picked = subset(set, [2, 0, 2]);
  assert.deepEqual(Array.from(picked.labels), [7, 5, 7]);
  assert.deepEqual(Array.from(picked.images), [20, 20, 20, 20, 0, 0, 0, 0, 20, 20, 20, 20]);
  assert.equal(subset(set, []).count, 0);
  for (const [bad, shown] of [
    [3, '3'],
    [-1, '-1'],
    [1.5, '1.5'],
  ] as const) {
    assert.throws(() => subset(set, [0, bad]), {
      name: 'ValueError',
      message: `subset: index ${shown} at position 1 is out of range (expected an integer in 0..2)`,
    });
  }
});

test('classCounts: counts per label in increasing label order', () => {
  assert.deepEqual(
    [...classCounts([3, 1, 3, 0, 3])],
    [
      [0, 1],
      [1, 1],
      [3, 3],
    ],
  );
});

test('oneClassSplit on Fashion-MNIST class 0: 6,000 train, 10,000 test, 9,000 anomalies', (t) => {
  const dir = fashionMnistDir;
  if (!requireData(t, dir, fashionMnistHint)) return;
  const split = oneClassSplit(readIdxDataset(dir, 'train'), readIdxDataset(dir, 'test'), 0);
  assert.equal(split.train.count, 6000);
  assert.equal(split.train.images.length, 6000 * 784);
  assert.ok(split.train.labels.every((label) => label === 0));
  assert.equal(split.test.count, 10_000);
  assert.equal(split.testIsAnomaly.length, 10_000);
  assert.equal(
    split.testIsAnomaly.reduce((sum, flag) => sum + flag, 0),
    9000,
  );
  // The first class-0 training image is image 1 of the file (labels start 9, 0, 0, 3). Its
  // pixel sum, from Python: gzip.open('.../train-images-idx3-ubyte.gz').read() as b,
  // sum(b[16 + 784 : 16 + 2 * 784]) -> 84598.
  assert.equal(
    split.train.images.subarray(0, 784).reduce((sum, byte) => sum + byte, 0),
    84_598,
  );
});
