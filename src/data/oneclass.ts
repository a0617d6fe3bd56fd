/**
 * The one-class protocol: train on the images of one normal class, test on everything.
 */

import { ShapeError, ValueError } from '../errors.js';
import { imageBytes, type ImageSet } from './types.js';
import { formatCount as fmt } from './util.js';

/** The data of one one-class experiment. */
export interface OneClassSplit {
  /** The training images whose label is the normal class, in their original order. */
  train: ImageSet;
  /** The whole test set (the same object that was passed in, not a copy). */
  test: ImageSet;
  /** `[test.count]`: 1 where the test image is an anomaly (label != normal class), else 0. */
  testIsAnomaly: Uint8Array;
}

/**
 * Splits a dataset for one-class anomaly detection with `normalClass` as the normal class:
 * training keeps only that class, every other test class counts as an anomaly.
 */
export function oneClassSplit(train: ImageSet, test: ImageSet, normalClass: number): OneClassSplit {
  checkImageSet(test, 'oneClassSplit: test');
  checkSameImageShape(train, test);
  const testIsAnomaly = Uint8Array.from(test.labels, (label) => (label === normalClass ? 0 : 1));
  return { train: normalImages(train, normalClass), test, testIsAnomaly };
}

/** The images of `set` labelled `normalClass`, in their original order; ValueError if none. */
export function normalImages(set: ImageSet, normalClass: number): ImageSet {
  checkImageSet(set, 'oneClassSplit: train');
  const counts = classCounts(set.labels);
  if (!counts.has(normalClass)) {
    const present = [...counts.keys()].join(', ');
    throw new ValueError(
      `oneClassSplit: normal class ${normalClass} is not in the training labels ` +
        `(classes present: ${present})`,
    );
  }
  return subset(
    set,
    indicesWhere(set.labels, (label) => label === normalClass),
  );
}

/**
 * A new ImageSet with the images and labels of `set` at `indices`, in that order
 * (repeats allowed). Copies the pixels.
 */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  checkImageSet(set, 'subset');
  const size = imageBytes(set);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] ?? -1;
    if (!Number.isInteger(index) || index < 0 || index >= set.count) {
      throw new ValueError(
        `subset: index ${String(index)} at position ${fmt(i)} is out of range ` +
          `(expected an integer in 0..${fmt(set.count - 1)})`,
      );
    }
    images.set(set.images.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = set.labels[index] ?? 0;
  }
  return { ...shapeOf(set), images, labels, count: indices.length };
}

/** How many times each label occurs, keyed by label in increasing order. */
export function classCounts(labels: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] ?? 0;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return new Map([...counts].sort(([a], [b]) => a - b));
}

/** Throws a ShapeError naming `where` if the arrays of `set` do not match its sizes. */
export function checkImageSet(set: ImageSet, where: string): void {
  if (!(set?.images instanceof Uint8Array) || !(set.labels instanceof Int32Array)) {
    throw new ShapeError(`${where}: expected images as a Uint8Array and labels as an Int32Array`);
  }
  const dims = { count: set.count, channels: set.channels, height: set.height, width: set.width };
  for (const [name, v] of Object.entries(dims)) {
    if (!Number.isSafeInteger(v) || v < (name === 'count' ? 0 : 1)) {
      throw new ShapeError(
        `${where}: ${name} must be a ${name === 'count' ? 'non-negative' : 'positive'} integer (got ${v})`,
      );
    }
  }
  const expected = set.count * imageBytes(set);
  if (set.images.length !== expected) {
    throw new ShapeError(
      `${where}: images has ${fmt(set.images.length)} bytes (expected ${fmt(expected)} for ` +
        `[${set.count}, ${set.channels}, ${set.height}, ${set.width}])`,
    );
  }
  if (set.labels.length !== set.count) {
    throw new ShapeError(
      `${where}: labels has ${fmt(set.labels.length)} entries (expected ${fmt(set.count)})`,
    );
  }
}

function checkSameImageShape(train: ImageSet, test: ImageSet): void {
  const a = [train.channels, train.height, train.width];
  const b = [test.channels, test.height, test.width];
  if (a.some((size, i) => size !== b[i])) {
    throw new ShapeError(
      `oneClassSplit: train images are [${a.join(', ')}] but test images are [${b.join(', ')}]`,
    );
  }
}

function shapeOf(set: ImageSet): Pick<ImageSet, 'channels' | 'height' | 'width'> {
  return { channels: set.channels, height: set.height, width: set.width };
}

function indicesWhere(labels: Int32Array, keep: (label: number) => boolean): number[] {
  const indices: number[] = [];
  labels.forEach((label, i) => {
    if (keep(label)) indices.push(i);
  });
  return indices;
}
