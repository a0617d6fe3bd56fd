/**
 * Reader for MNIST-style idx files (MNIST, Fashion-MNIST, KMNIST, ...), raw or gzip.
 *
 * An idx file is a 4-byte magic `0x00 0x00 <dtype> <ndims>`, then `ndims` big-endian
 * uint32 sizes, then the values in row-major order. Only dtype `0x08` (uint8) is read:
 * images have 3 dims `[count, height, width]` (magic `0x00000803`), labels have 1 dim
 * `[count]` (magic `0x00000801`). Gzip is recognised by its magic bytes, not by the name.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FormatError, NotFoundError } from '../errors.js';
import { formatCount as fmt, readFailure } from './util.js';
import type { ImageSet, Split } from './types.js';

/** The images of one idx file: `images` is `[count, height, width]`, uint8. */
export interface IdxImages {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** Largest decoded idx file read, in bytes (2 GiB); anything larger is taken as corrupt. */
export const maxIdxBytes = 2 ** 31;

const uint8Type = 0x08;
const dtypeNames: Readonly<Record<number, string>> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** A decoded idx array: its dims and its values (a view into the file's bytes). */
interface IdxArray {
  dims: number[];
  values: Uint8Array;
}

/** Reads an idx image file (magic `0x00000803`), raw or gzip. */
export function readIdxImages(path: string): IdxImages {
  const { dims, values } = readIdx(path, 3);
  const [count = 0, height = 0, width = 0] = dims;
  if (height === 0 || width === 0) {
    throw new FormatError(`idx: ${path} declares ${height}x${width} images (expected both > 0)`);
  }
  return { images: new Uint8Array(values), count, height, width };
}

/** Reads an idx label file (magic `0x00000801`), raw or gzip: one class index per image. */
export function readIdxLabels(path: string): Int32Array {
  return Int32Array.from(readIdx(path, 1).values);
}

/**
 * Reads one split of an idx dataset from the folder `dir`, which holds
 * `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
 * `t10k-labels-idx1-ubyte`, each raw or with a `.gz` suffix. Returns grey images
 * (`channels` 1).
 */
export function readIdxDataset(dir: string, split: Split): ImageSet {
  if (!existsSync(dir)) throw new NotFoundError(`idx: dataset folder not found: ${dir}`);
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = findIdxFile(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = findIdxFile(dir, `${prefix}-labels-idx1-ubyte`);
  const { images, count, height, width } = readIdxImages(imagesPath);
  const labels = readIdxLabels(labelsPath);
  if (labels.length !== count) {
    throw new FormatError(
      `idx: ${dir} has ${fmt(count)} ${split} images but ${fmt(labels.length)} labels ` +
        `(${imagesPath}, ${labelsPath})`,
    );
  }
  return { images, labels, count, channels: 1, height, width };
}

/** The path of `base` or `base.gz` in `dir`, whichever exists (the raw file first). */
function findIdxFile(dir: string, base: string): string {
  for (const name of [base, `${base}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new NotFoundError(`idx: ${dir} has no ${base} (expected ${base} or ${base}.gz)`);
}

/** Reads, gunzips if needed, and decodes the idx file at `path`, which must have `ndims` dims. */
function readIdx(path: string, ndims: number): IdxArray {
  const bytes = gunzipIfNeeded(readBytes(path), path);
  if (bytes.length === 0) throw new FormatError(`idx: ${path} is empty`);
  return decodeIdx(bytes, path, ndims);
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NotFoundError(`idx: ${path} ${readFailure(error)}`, { cause: error });
  }
}

function gunzipIfNeeded(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxIdxBytes });
  } catch (error) {
    if (error instanceof RangeError) {
      throw new FormatError(`idx: ${path} decompresses to more than ${fmt(maxIdxBytes)} bytes`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new FormatError(`idx: ${path} starts like gzip but does not decompress (${reason})`);
  }
}

/** Checks the header of decoded idx `bytes` and returns its dims and values. */
function decodeIdx(bytes: Uint8Array, path: string, ndims: number): IdxArray {
  checkMagic(bytes, path, ndims);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new FormatError(
      `idx: ${path} is truncated ` +
        `(expected a ${headerBytes}-byte header, got ${fmt(bytes.length)} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const valueBytes = dims.reduce((a, b) => a * b, 1);
  if (valueBytes > maxIdxBytes) {
    throw new FormatError(
      `idx: ${path} declares dims ${dims.join('x')} (${fmt(valueBytes)} bytes; ` +
        `expected at most ${fmt(maxIdxBytes)})`,
    );
  }
  checkLength(bytes.length, headerBytes + valueBytes, path);
  return { dims, values: bytes.subarray(headerBytes) };
}

function checkMagic(bytes: Uint8Array, path: string, ndims: number): void {
  const expected = `0x000008${ndims.toString(16).padStart(2, '0')}`;
  const what = ndims === 1 ? 'label' : 'image';
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const got = hex(bytes.subarray(0, 4));
    throw new FormatError(`idx: ${path} is not an idx file (magic ${got}, expected ${expected})`);
  }
  const dtype = bytes[2] ?? 0;
  if (dtype !== uint8Type) {
    const name = dtypeNames[dtype] ?? 'unknown';
    throw new FormatError(
      `idx: ${path} has dtype 0x${hex2(dtype)} (${name}); only 0x08 (uint8) is supported`,
    );
  }
  if (bytes[3] !== ndims) {
    throw new FormatError(
      `idx: ${path} has ${bytes[3]} dims (magic ${hex(bytes.subarray(0, 4))}), ` +
        `expected an idx ${what} file with ${ndims} (magic ${expected})`,
    );
  }
}

function checkLength(got: number, expected: number, path: string): void {
  if (got < expected) {
    throw new FormatError(
      `idx: ${path} is truncated (expected ${fmt(expected)} bytes, got ${fmt(got)})`,
    );
  }
  if (got > expected) {
    throw new FormatError(
      `idx: ${path} has ${fmt(got - expected)} trailing bytes ` +
        `(expected ${fmt(expected)} bytes, got ${fmt(got)})`,
    );
  }
}

function hex(bytes: Uint8Array): string {
  return `0x${Array.from(bytes, hex2).join('')}`;
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}
