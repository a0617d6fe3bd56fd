import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readIdxDataset } from '../../src/data/idx.js';
import type { ImageSet, Split } from '../../src/data/types.js';
import {
  byteSum,
  fashionMnistDir,
  fashionMnistHint,
  histogram,
  requireData,
  sharedDataDir,
} from '../helpers/data.js';

// Pixel checksums (sum of the 784 bytes of one image) were computed once from the files,
// independently of duiad, with Python's gzip module, e.g. for the first training image:
//   python3 -c "import gzip; b = gzip.open('<dir>/train-images-idx3-ubyte.gz').read();
//               print(sum(b[16:16+784]), sum(b[-784:]))"
// (16 = the idx header of 3 dims; b[-784:] is the last image.)

const mnistDir = join(sharedDataDir(), 'mnist');
const cache = new Map<string, ImageSet>();

/** Each split is read once per file, or undefined when the data is missing (test skipped). */
function load(t: TestContext, dir: string, split: Split): ImageSet | undefined {
  const hint = dir === fashionMnistDir ? fashionMnistHint : undefined;
  if (!requireData(t, dir, hint)) return undefined;
  const key = `${dir}:${split}`;
  const set = cache.get(key) ?? readIdxDataset(dir, split);
  cache.set(key, set);
  return set;
}

function checkShape(set: ImageSet, count: number): void {
  assert.deepEqual([set.count, set.channels, set.height, set.width], [count, 1, 28, 28]);
  assert.equal(set.images.length, count * 28 * 28);
  assert.equal(set.labels.length, count);
}

test('Fashion-MNIST train: 60,000 images, 6,000 per class, pinned pixels', (t) => {
  const train = load(t, fashionMnistDir, 'train');
  if (train === undefined) return;
  checkShape(train, 60_000);
  assert.deepEqual(histogram(train.labels, 10), new Array(10).fill(6000));
  assert.equal(train.labels[0], 9);
  assert.equal(byteSum(train.images, 0, 784), 76_247);
  assert.equal(byteSum(train.images, 59_999 * 784, 784), 16_684);
});

test('Fashion-MNIST test: 10,000 images, 1,000 per class, pinned pixels', (t) => {
  const testSet = load(t, fashionMnistDir, 'test');
  if (testSet === undefined) return;
  checkShape(testSet, 10_000);
  assert.deepEqual(histogram(testSet.labels, 10), new Array(10).fill(1000));
  assert.equal(testSet.labels[0], 9);
  assert.equal(byteSum(testSet.images, 0, 784), 33_456);
});

test('MNIST train: 60,000 images, the known label histogram, pinned pixels', (t) => {
  const train = load(t, mnistDir, 'train');
  if (train === undefined) return;
  checkShape(train, 60_000);
  assert.deepEqual(
    histogram(train.labels, 10),
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
  );
  assert.equal(train.labels[0], 5);
  assert.equal(byteSum(train.images, 0, 784), 27_525);
  assert.equal(byteSum(train.images, 59_999 * 784, 784), 20_920);
});

test('MNIST test: 10,000 images, pinned pixels', (t) => {
  const testSet = load(t, mnistDir, 'test');
  if (testSet === undefined) return;
  checkShape(testSet, 10_000);
  assert.deepEqual(
    histogram(testSet.labels, 10),
    [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
  );
  assert.equal(testSet.labels[0], 7);
  assert.equal(byteSum(testSet.images, 0, 784), 18_454);
});
