import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classNames,
  datasetNames,
  defaultDataPath,
  loadDataset,
  parseDatasetName,
  sharedDataDir,
} from '../../src/data/datasets.js';
import { UsageError } from '../../src/errors.js';
import { fashionMnistHint, requireData } from '../helpers/data.js';

test('sharedDataDir: DUIAD_DATA or ../shared/data, resolved against cwd', () => {
  assert.equal(sharedDataDir({}, '/repo/main'), '/repo/shared/data');
  assert.equal(sharedDataDir({ DUIAD_DATA: '' }, '/repo/main'), '/repo/shared/data');
  assert.equal(sharedDataDir({ DUIAD_DATA: 'data' }, '/repo/main'), '/repo/main/data');
  assert.equal(sharedDataDir({ DUIAD_DATA: '/srv/data' }, '/repo/main'), '/srv/data');
});

test('defaultDataPath: per-dataset locations', () => {
  const env = { DUIAD_DATA: '/srv/data' };
  assert.equal(defaultDataPath('fashion-mnist', env), '/usr/share/datasets/fashion-mnist');
  assert.equal(defaultDataPath('mnist', env), '/srv/data/mnist');
  assert.equal(defaultDataPath('cifar10', env), '/srv/data/cifar-10-binary.tar.gz');
  assert.equal(defaultDataPath('cifar100', env), '/srv/data/cifar-100-binary.tar.gz');
});

test('classNames: the datasets’ own class names', () => {
  assert.deepEqual(classNames('mnist'), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const fashion = classNames('fashion-mnist');
  assert.deepEqual([fashion[0], fashion[1], fashion[9]], ['T-shirt/top', 'Trouser', 'Ankle boot']);
  const cifar10 = classNames('cifar10');
  assert.deepEqual([cifar10[0], cifar10[3], cifar10[9]], ['airplane', 'cat', 'truck']);
  const cifar100 = classNames('cifar100');
  assert.equal(cifar100.length, 20);
  assert.deepEqual(
    [cifar100[0], cifar100[14], cifar100[19]],
    ['aquatic_mammals', 'people', 'vehicles_2'],
  );
  for (const name of datasetNames)
    assert.equal(new Set(classNames(name)).size, classNames(name).length);
  // Callers get a copy.
  classNames('cifar10').pop();
  assert.equal(classNames('cifar10').length, 10);
});

test('parseDatasetName: accepts exact names, rejects others with the list and a hint', () => {
  for (const name of datasetNames) assert.equal(parseDatasetName(name), name);
  const isUsageError = (message: string) => (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.code, 'E_USAGE');
    assert.equal(error.message, message);
    return true;
  };
  const list = 'expected one of: mnist, fashion-mnist, cifar10, cifar100';
  assert.throws(
    () => parseDatasetName('imagenet'),
    isUsageError(`unknown dataset 'imagenet' (${list})`),
  );
  assert.throws(
    () => parseDatasetName('CIFAR-10'),
    isUsageError(`unknown dataset 'CIFAR-10' (${list}); did you mean 'cifar10'?`),
  );
  assert.throws(() => parseDatasetName('fashion_mnist'), /did you mean 'fashion-mnist'\?/);
});

test('loadDataset: reads Fashion-MNIST test from its default path', async (t) => {
  if (!requireData(t, defaultDataPath('fashion-mnist'), fashionMnistHint)) return;
  const set = await loadDataset('fashion-mnist', 'test');
  assert.deepEqual([set.count, set.channels, set.height, set.width], [10_000, 1, 28, 28]);
});
