/**
 * The datasets duiad knows by name: where they live by default, how to read them, and
 * what their classes are called.
 */

import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { readCifar } from './cifar.js';
import { readIdxDataset } from './idx.js';
import type { ImageSet, Split } from './types.js';

/** A dataset known by name. CIFAR-100 is read with its 20 coarse superclasses as labels. */
export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100';

/** The environment variables this module reads (a subset of `process.env`). */
export type DataEnv = Readonly<Record<string, string | undefined>>;

/** Every DatasetName, in the order help texts list them. */
export const datasetNames: readonly DatasetName[] = [
  'mnist',
  'fashion-mnist',
  'cifar10',
  'cifar100',
];

/** Where Debian's package `dataset-fashion-mnist` installs the Fashion-MNIST idx files. */
export const fashionMnistSystemDir = '/usr/share/datasets/fashion-mnist';

const classNameTable: Readonly<Record<DatasetName, readonly string[]>> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
  cifar10: [
    'airplane',
    'automobile',
    'bird',
    'cat',
    'deer',
    'dog',
    'frog',
    'horse',
    'ship',
    'truck',
  ],
  // As the dataset's coarse_label_names.txt spells them.
  cifar100: [
    'aquatic_mammals',
    'fish',
    'flowers',
    'food_containers',
    'fruit_and_vegetables',
    'household_electrical_devices',
    'household_furniture',
    'insects',
    'large_carnivores',
    'large_man-made_outdoor_things',
    'large_natural_outdoor_scenes',
    'large_omnivores_and_herbivores',
    'medium_mammals',
    'non-insect_invertebrates',
    'people',
    'reptiles',
    'small_mammals',
    'trees',
    'vehicles_1',
    'vehicles_2',
  ],
};

/**
 * The folder of shared test and benchmark data: `$DUIAD_DATA` if set and not empty, else
 * `../shared/data`, resolved against `cwd`.
 */
export function sharedDataDir(env: DataEnv = process.env, cwd: string = process.cwd()): string {
  const configured = env['DUIAD_DATA'];
  return resolve(
    cwd,
    configured !== undefined && configured !== '' ? configured : '../shared/data',
  );
}

/**
 * Where `name` is read from when no path is given: Fashion-MNIST from the Debian package's
 * folder, the others from `sharedDataDir(env)` (`mnist/`, `cifar-10-binary.tar.gz`,
 * `cifar-100-binary.tar.gz`).
 */
export function defaultDataPath(name: DatasetName, env: DataEnv = process.env): string {
  switch (name) {
    case 'fashion-mnist':
      return fashionMnistSystemDir;
    case 'mnist':
      return resolve(sharedDataDir(env), 'mnist');
    case 'cifar10':
      return resolve(sharedDataDir(env), 'cifar-10-binary.tar.gz');
    case 'cifar100':
      return resolve(sharedDataDir(env), 'cifar-100-binary.tar.gz');
  }
}

/**
 * Reads one split of the dataset `name` from `path` (default `defaultDataPath(name)`):
 * a folder of idx files for MNIST and Fashion-MNIST, a folder or `.tar.gz` for CIFAR.
 */
export async function loadDataset(
  name: DatasetName,
  split: Split,
  path: string = defaultDataPath(name),
): Promise<ImageSet> {
  if (split !== 'train' && split !== 'test') {
    throw new UsageError(`dataset: split must be 'train' or 'test' (got '${String(split)}')`);
  }
  switch (name) {
    case 'mnist':
    case 'fashion-mnist':
      return readIdxDataset(path, split);
    case 'cifar10':
      return readCifar(path, { variant: 'cifar10', split });
    case 'cifar100':
      return readCifar(path, { variant: 'cifar100', split, labels: 'coarse' });
    default:
      // Unreachable from typed code; plain JavaScript may pass anything.
      parseDatasetName(String(name));
      throw new UsageError(`dataset: unknown dataset '${String(name)}'`);
  }
}

/** The names of the classes of `name`, indexed by label (CIFAR-100: the 20 superclasses). */
export function classNames(name: DatasetName): string[] {
  return [...classNameTable[name]];
}

/** `text` as a DatasetName; a UsageError that lists the valid names for anything else. */
export function parseDatasetName(text: string): DatasetName {
  const name = datasetNames.find((candidate) => candidate === text);
  if (name !== undefined) return name;
  const hint = closestName(text);
  throw new UsageError(
    `unknown dataset '${text}' (expected one of: ${datasetNames.join(', ')})` +
      (hint === undefined ? '' : `; did you mean '${hint}'?`),
  );
}

/** The dataset name `text` spells with other case or separators (`CIFAR-10`, `fashion_mnist`). */
function closestName(text: string): DatasetName | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_ ]/g, '');
  return datasetNames.find((candidate) => squash(candidate) === squash(text));
}
