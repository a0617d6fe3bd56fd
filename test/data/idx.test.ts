import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readIdxDataset, readIdxImages, readIdxLabels } from '../../src/data/idx.js';
import { FormatError, NotFoundError, type DuiadError } from '../../src/errors.js';
import { tempDir } from '../helpers/data.js';

/** An idx file: magic 0x00 0x00 dtype ndims, big-endian uint32 dims, then `values`. */
function idxBytes(dims: number[], values: ArrayLike<number>, dtype = 0x08): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, dtype, dims.length]);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim, false));
  bytes.set(Array.from(values), 4 + 4 * dims.length);
  return bytes;
}

/** Asserts that `fn` throws a `Kind` with `code` and a message matching every pattern. */
function expectError(
  fn: () => unknown,
  kind: new (...args: never[]) => DuiadError,
  code: string,
  patterns: (RegExp | string)[],
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), error.message);
      else assert.match(error.message, pattern);
    }
    return true;
  });
}

const pixels = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);

test('idx: reads raw and gzip image and label files alike', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'images'), idxBytes([2, 3, 4], pixels));
  await writeFile(join(dir, 'images.gz'), gzipSync(idxBytes([2, 3, 4], pixels)));
  // Gzip is detected by content: a gzip file without the suffix reads too.
  await writeFile(join(dir, 'labels'), gzipSync(idxBytes([2], [7, 3])));
  for (const name of ['images', 'images.gz']) {
    const read = readIdxImages(join(dir, name));
    assert.deepEqual(
      { ...read, images: Array.from(read.images) },
      {
        images: pixels,
        count: 2,
        height: 3,
        width: 4,
      },
    );
  }
  assert.deepEqual(readIdxLabels(join(dir, 'labels')), Int32Array.from([7, 3]));
});

test('idx: readIdxDataset pairs images and labels of a split', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes([2, 3, 4], pixels)));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idxBytes([2], [1, 0]));
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), idxBytes([1, 3, 4], pixels.slice(0, 12)));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxBytes([1], [5])));
  const train = readIdxDataset(dir, 'train');
  assert.equal(train.count, 2);
  assert.equal(train.channels, 1);
  assert.deepEqual([train.height, train.width], [3, 4]);
  assert.deepEqual(Array.from(train.images), pixels);
  assert.deepEqual(train.labels, Int32Array.from([1, 0]));
  const test = readIdxDataset(dir, 'test');
  assert.deepEqual([test.count, test.labels[0]], [1, 5]);
});

test('idx: truncated file names the file and expected vs actual bytes', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'short-images');
  // Declares 10 images of 28x28 (16 + 7,840 bytes) but holds 100 pixels.
  await writeFile(path, idxBytes([10, 28, 28], new Uint8Array(100)));
  expectError(() => readIdxImages(path), FormatError, 'E_FORMAT', [
    `idx: ${path} is truncated (expected 7,856 bytes, got 116)`,
  ]);
  await writeFile(`${path}.gz`, gzipSync(idxBytes([10, 28, 28], new Uint8Array(100))));
  expectError(() => readIdxImages(`${path}.gz`), FormatError, 'E_FORMAT', [
    `${path}.gz is truncated (expected 7,856 bytes, got 116)`,
  ]);
  // The header itself cut short.
  await writeFile(path, idxBytes([10, 28, 28], []).subarray(0, 9));
  expectError(() => readIdxImages(path), FormatError, 'E_FORMAT', [
    'is truncated (expected a 16-byte header, got 9 bytes)',
  ]);
});

test('idx: extra bytes after the declared data are an error', async (t) => {
  const path = join(await tempDir(t), 'labels');
  await writeFile(path, idxBytes([3], [1, 2, 3, 4, 5]));
  expectError(() => readIdxLabels(path), FormatError, 'E_FORMAT', [
    `${path} has 2 trailing bytes (expected 11 bytes, got 13)`,
  ]);
});

test('idx: wrong magic, wrong kind and wrong dtype are rejected', async (t) => {
  const dir = await tempDir(t);
  const notIdx = join(dir, 'not-idx');
  await writeFile(notIdx, Uint8Array.from([0x12, 0x34, 0x08, 0x03, 0, 0, 0, 1]));
  expectError(() => readIdxImages(notIdx), FormatError, 'E_FORMAT', [
    `idx: ${notIdx} is not an idx file (magic 0x12340803, expected 0x00000803)`,
  ]);
  const labels = join(dir, 'labels');
  await writeFile(labels, idxBytes([2], [1, 2]));
  expectError(() => readIdxImages(labels), FormatError, 'E_FORMAT', [
    labels,
    'has 1 dims (magic 0x00000801)',
    'expected an idx image file with 3 (magic 0x00000803)',
  ]);
  const floats = join(dir, 'floats');
  await writeFile(floats, idxBytes([1, 1, 1], [0, 0, 0, 0], 0x0d));
  expectError(() => readIdxImages(floats), FormatError, 'E_FORMAT', [
    `${floats} has dtype 0x0D (float32); only 0x08 (uint8) is supported`,
  ]);
});

test('idx: gzip magic followed by garbage is a FormatError', async (t) => {
  const path = join(await tempDir(t), 'garbage.gz');
  await writeFile(path, Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  expectError(() => readIdxImages(path), FormatError, 'E_FORMAT', [
    `idx: ${path} starts like gzip but does not decompress`,
  ]);
  // A valid gzip stream cut in half.
  const whole = gzipSync(idxBytes([2, 3, 4], pixels));
  await writeFile(path, whole.subarray(0, whole.length >> 1));
  expectError(() => readIdxImages(path), FormatError, 'E_FORMAT', ['does not decompress']);
});

test('idx: absurd sizes are rejected before allocating', async (t) => {
  const dir = await tempDir(t);
  const huge = join(dir, 'huge');
  await writeFile(huge, idxBytes([0xffffffff, 0xffff, 0xffff], []));
  expectError(() => readIdxImages(huge), FormatError, 'E_FORMAT', [
    huge,
    'declares dims 4294967295x65535x65535',
    'expected at most 2,147,483,648',
  ]);
  const flat = join(dir, 'flat');
  await writeFile(flat, idxBytes([5, 0, 28], []));
  expectError(() => readIdxImages(flat), FormatError, 'E_FORMAT', [
    `${flat} declares 0x28 images (expected both > 0)`,
  ]);
});

test('idx: empty and missing files', async (t) => {
  const dir = await tempDir(t);
  const empty = join(dir, 'empty');
  await writeFile(empty, new Uint8Array(0));
  expectError(() => readIdxLabels(empty), FormatError, 'E_FORMAT', [`idx: ${empty} is empty`]);
  const missing = join(dir, 'nope-images-idx3-ubyte');
  expectError(() => readIdxImages(missing), NotFoundError, 'E_NOT_FOUND', [
    `idx: ${missing} not found`,
  ]);
  expectError(() => readIdxImages(dir), NotFoundError, 'E_NOT_FOUND', [`${dir} is a folder`]);
});

test('idx: readIdxDataset reports missing files and count mismatches', async (t) => {
  const dir = await tempDir(t);
  expectError(() => readIdxDataset(join(dir, 'absent'), 'train'), NotFoundError, 'E_NOT_FOUND', [
    `idx: dataset folder not found: ${join(dir, 'absent')}`,
  ]);
  await writeFile(join(dir, 'train-images-idx3-ubyte'), idxBytes([2, 3, 4], pixels));
  expectError(() => readIdxDataset(dir, 'train'), NotFoundError, 'E_NOT_FOUND', [
    `idx: ${dir} has no train-labels-idx1-ubyte`,
    'expected train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz',
  ]);
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idxBytes([3], [0, 1, 2]));
  expectError(() => readIdxDataset(dir, 'train'), FormatError, 'E_FORMAT', [
    `idx: ${dir} has 2 train images but 3 labels`,
  ]);
});
