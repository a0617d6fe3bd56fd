import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readCifar } from '../../src/data/cifar.js';
import type { ImageSet, Split } from '../../src/data/types.js';
import { byteSum, histogram, requireData, sharedDataDir } from '../helpers/data.js';

// Pixel checksums (sum of the 3,072 bytes of one record's image) and labels were computed
// once from the archive, independently of duiad, with Python's tarfile module:
//   python3 -c "import tarfile; t = tarfile.open('<shared>/cifar-10-binary.tar.gz');
//     r = lambda n: t.extractfile('cifar-10-batches-bin/' + n).read();
//     b1 = r('data_batch_1.bin'); b2 = r('data_batch_2.bin'); b5 = r('data_batch_5.bin');
//     tb = r('test_batch.bin');
//     print(b1[0], sum(b1[1:3073]), sum(b1[1:1025]), b2[0], sum(b2[1:3073]),
//           b5[-3073], sum(b5[-3072:]), tb[0], sum(tb[1:3073]), tb[-3073], sum(tb[-3072:]))"
//   -> 0 456420 151732 0 466368 9 322105 0 475641 9 384887

const archive = join(sharedDataDir(), 'cifar-10-binary.tar.gz');
const cache = new Map<Split, Promise<ImageSet>>();

/** Each split is read once per file, or undefined when the data is missing (test skipped). */
async function load(t: TestContext, split: Split): Promise<ImageSet | undefined> {
  if (!requireData(t, archive)) return undefined;
  const set = cache.get(split) ?? readCifar(archive, { variant: 'cifar10', split });
  cache.set(split, set);
  return set;
}

const imageBytes = 3 * 32 * 32;

test('CIFAR-10 train from .tar.gz: 50,000 images, 5,000 per class, pinned pixels', async (t) => {
  const train = await load(t, 'train');
  if (train === undefined) return;
  assert.deepEqual([train.count, train.channels, train.height, train.width], [50_000, 3, 32, 32]);
  assert.equal(train.images.length, 50_000 * imageBytes);
  assert.deepEqual(histogram(train.labels, 10), new Array(10).fill(5000));
  // First image of data_batch_1, whole and its red plane alone (CHW order).
  assert.equal(train.labels[0], 0);
  assert.equal(byteSum(train.images, 0, imageBytes), 456_420);
  assert.equal(byteSum(train.images, 0, 1024), 151_732);
  // First image of data_batch_2 and last of data_batch_5: batches concatenated in order.
  assert.equal(train.labels[10_000], 0);
  assert.equal(byteSum(train.images, 10_000 * imageBytes, imageBytes), 466_368);
  assert.equal(train.labels[49_999], 9);
  assert.equal(byteSum(train.images, 49_999 * imageBytes, imageBytes), 322_105);
});

test('CIFAR-10 test from the .tar.gz: 10,000 images, 1,000 per class, pinned pixels', async (t) => {
  const testSet = await load(t, 'test');
  if (testSet === undefined) return;
  assert.deepEqual(
    [testSet.count, testSet.channels, testSet.height, testSet.width],
    [10_000, 3, 32, 32],
  );
  assert.deepEqual(histogram(testSet.labels, 10), new Array(10).fill(1000));
  assert.equal(testSet.labels[0], 0);
  assert.equal(byteSum(testSet.images, 0, imageBytes), 475_641);
  assert.equal(testSet.labels[9_999], 9);
  assert.equal(byteSum(testSet.images, 9_999 * imageBytes, imageBytes), 384_887);
});
