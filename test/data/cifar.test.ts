import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { readCifar, type CifarOptions } from '../../src/data/cifar.js';
import type { ImageSet } from '../../src/data/types.js';
import { FormatError, NotFoundError, UsageError, type DuiadError } from '../../src/errors.js';
import { tempDir } from '../helpers/data.js';

const pixelBytes = 3072;

/** The made-up pixel value at byte `p` of the image whose pixel seed is `seed`. */
const pixelAt = (seed: number, p: number) => (seed * 31 + p * 7) % 256;

/** Records of label bytes and generated pixels: `labels[r]` are record r's label bytes. */
function records(labels: number[][], seeds: number[]): Uint8Array {
  const parts = labels.map((labelBytes, r) => {
    const record = new Uint8Array(labelBytes.length + pixelBytes);
    record.set(labelBytes);
    for (let p = 0; p < pixelBytes; p++) record[labelBytes.length + p] = pixelAt(seeds[r] ?? 0, p);
    return record;
  });
  return Buffer.concat(parts);
}

/** Checks count, shape, labels and that image i holds the pixels of seed `seeds[i]`. */
function checkSet(set: ImageSet, labels: number[], seeds: number[]): void {
  assert.deepEqual([set.count, set.channels, set.height, set.width], [labels.length, 3, 32, 32]);
  assert.deepEqual(Array.from(set.labels), labels);
  assert.equal(set.images.length, labels.length * pixelBytes);
  seeds.forEach((seed, i) => {
    const image = set.images.subarray(i * pixelBytes, (i + 1) * pixelBytes);
    const expected = Uint8Array.from({ length: pixelBytes }, (_, p) => pixelAt(seed, p));
    assert.deepEqual(image, expected, `image ${i}`);
  });
}

async function writeTar(path: string, entries: [string, Uint8Array | null][], gzip = true) {
  const pack = tarPack();
  for (const [name, data] of entries) {
    if (data === null) pack.entry({ name, type: 'directory' });
    else pack.entry({ name }, data);
  }
  pack.finalize();
  const out = createWriteStream(path);
  await (gzip ? pipeline(pack, createGzip(), out) : pipeline(pack, out));
}

async function expectRejects(
  promise: Promise<unknown>,
  kind: new (...args: never[]) => DuiadError,
  code: string,
  parts: string[],
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), error.message);
    return true;
  });
}

// CIFAR-100 fixture: 4 training records (coarse, fine) and 2 test records.
const train100 = {
  labels: [
    [3, 42],
    [19, 99],
    [0, 0],
    [7, 15],
  ],
  seeds: [1, 2, 3, 4],
};
const test100 = {
  labels: [
    [11, 37],
    [2, 5],
  ],
  seeds: [5, 6],
};
const coarse = (labels: number[][]) => labels.map((l) => l[0] ?? -1);
const fine = (labels: number[][]) => labels.map((l) => l[1] ?? -1);

async function writeCifar100(dir: string): Promise<void> {
  await writeFile(join(dir, 'train.bin'), records(train100.labels, train100.seeds));
  await writeFile(join(dir, 'test.bin'), records(test100.labels, test100.seeds));
}

test('cifar100: reads coarse and fine labels and pixels from a folder', async (t) => {
  const dir = await tempDir(t);
  await writeCifar100(dir);
  const options: CifarOptions = { variant: 'cifar100', split: 'train' };
  checkSet(await readCifar(dir, options), coarse(train100.labels), train100.seeds);
  const fineTrain = await readCifar(dir, { ...options, labels: 'fine' });
  checkSet(fineTrain, fine(train100.labels), train100.seeds);
  const testSet = await readCifar(dir, { variant: 'cifar100', split: 'test', labels: 'coarse' });
  checkSet(testSet, coarse(test100.labels), test100.seeds);
});

test('cifar100: reads the same from a .tar.gz, a .tar and an extracted subfolder', async (t) => {
  const dir = await tempDir(t);
  const folder = join(dir, 'cifar-100-binary');
  await mkdir(folder);
  await writeCifar100(folder);
  const entries: [string, Uint8Array | null][] = [
    ['cifar-100-binary/', null],
    ['cifar-100-binary/coarse_label_names.txt', Buffer.from('aquatic_mammals\n')],
    ['cifar-100-binary/test.bin', await readFile(join(folder, 'test.bin'))],
    ['cifar-100-binary/train.bin', await readFile(join(folder, 'train.bin'))],
  ];
  await writeTar(join(dir, 'cifar-100-binary.tar.gz'), entries);
  await writeTar(join(dir, 'plain.tar'), entries, false);
  for (const source of [dir, join(dir, 'cifar-100-binary.tar.gz'), join(dir, 'plain.tar')]) {
    const train = await readCifar(source, { variant: 'cifar100', split: 'train', labels: 'fine' });
    checkSet(train, fine(train100.labels), train100.seeds);
    const testSet = await readCifar(source, { variant: 'cifar100', split: 'test' });
    checkSet(testSet, coarse(test100.labels), test100.seeds);
  }
});

test('cifar10: concatenates data_batch_1..5 in order, whatever the archive order', async (t) => {
  const dir = await tempDir(t);
  const batches = [5, 3, 1, 4, 2].map((b): [string, Uint8Array] => [
    `cifar-10-batches-bin/data_batch_${b}.bin`,
    records([[b], [9 - b]], [10 * b, 10 * b + 1]),
  ]);
  const testBatch = records([[4], [0], [9]], [7, 8, 9]);
  await writeTar(join(dir, 'c10.tar.gz'), [
    ...batches,
    ['cifar-10-batches-bin/test_batch.bin', testBatch],
  ]);
  const train = await readCifar(join(dir, 'c10.tar.gz'), { variant: 'cifar10', split: 'train' });
  checkSet(train, [1, 8, 2, 7, 3, 6, 4, 5, 5, 4], [10, 11, 20, 21, 30, 31, 40, 41, 50, 51]);
  // The same files directly in a folder.
  for (const [name, data] of batches) await writeFile(join(dir, name.split('/')[1] ?? ''), data);
  await writeFile(join(dir, 'test_batch.bin'), testBatch);
  checkSet(await readCifar(dir, { variant: 'cifar10', split: 'test' }), [4, 0, 9], [7, 8, 9]);
});

test('cifar: a partial last record is a FormatError naming the record', async (t) => {
  const dir = await tempDir(t);
  for (const b of [1, 2, 4, 5])
    await writeFile(join(dir, `data_batch_${b}.bin`), records([[b]], [b]));
  // 1,203 whole records, then 911 bytes of the 1,204th.
  const whole = records(
    Array.from({ length: 1203 }, () => [1]),
    new Array(1203).fill(0),
  );
  await writeFile(join(dir, 'data_batch_3.bin'), Buffer.concat([whole, new Uint8Array(911)]));
  await expectRejects(
    readCifar(dir, { variant: 'cifar10', split: 'train' }),
    FormatError,
    'E_FORMAT',
    [
      `cifar: ${join(dir, 'data_batch_3.bin')} record 1,204 is truncated ` +
        '(expected 3,073 bytes, got 911)',
    ],
  );
  await writeFile(join(dir, 'test.bin'), records([[1, 2]], [0]).subarray(0, 100));
  await expectRejects(
    readCifar(dir, { variant: 'cifar100', split: 'test' }),
    FormatError,
    'E_FORMAT',
    ['test.bin record 1 is truncated (expected 3,074 bytes, got 100)'],
  );
});

test('cifar: labels out of range are FormatErrors naming file, record and range', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'test_batch.bin'), records([[3], [9], [10]], [0, 1, 2]));
  await expectRejects(
    readCifar(dir, { variant: 'cifar10', split: 'test' }),
    FormatError,
    'E_FORMAT',
    [`cifar: ${join(dir, 'test_batch.bin')} record 3 has label 10 (expected 0..9)`],
  );
  await writeFile(
    join(dir, 'test.bin'),
    records(
      [
        [19, 99],
        [20, 1],
      ],
      [0, 1],
    ),
  );
  await expectRejects(
    readCifar(dir, { variant: 'cifar100', split: 'test' }),
    FormatError,
    'E_FORMAT',
    ['test.bin record 2 has coarse label 20 (expected 0..19)'],
  );
  // Both label bytes are checked, whichever is returned.
  await writeFile(join(dir, 'train.bin'), records([[1, 100]], [0]));
  await expectRejects(
    readCifar(dir, { variant: 'cifar100', split: 'train' }),
    FormatError,
    'E_FORMAT',
    ['train.bin record 1 has fine label 100 (expected 0..99)'],
  );
});

test('cifar: missing sources and batch files are NotFoundErrors naming them', async (t) => {
  const dir = await tempDir(t);
  const options: CifarOptions = { variant: 'cifar10', split: 'train' };
  await expectRejects(
    readCifar(join(dir, 'absent.tar.gz'), options),
    NotFoundError,
    'E_NOT_FOUND',
    [`cifar: source ${join(dir, 'absent.tar.gz')} not found`],
  );
  await expectRejects(readCifar(dir, options), NotFoundError, 'E_NOT_FOUND', [
    'no CIFAR-10 data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, ' +
      `data_batch_5.bin in ${dir} or ${join(dir, 'cifar-10-batches-bin')}`,
  ]);
  for (const b of [1, 2, 3, 5])
    await writeFile(join(dir, `data_batch_${b}.bin`), records([[0]], [0]));
  await expectRejects(readCifar(dir, options), NotFoundError, 'E_NOT_FOUND', [
    `cifar: ${dir} is missing data_batch_4.bin`,
  ]);
  // An archive of the other variant lacks the needed entries.
  const archive = join(dir, 'other.tar.gz');
  await writeTar(archive, [['cifar-100-binary/train.bin', records([[0, 0]], [0])]]);
  await expectRejects(readCifar(archive, options), NotFoundError, 'E_NOT_FOUND', [
    `cifar: ${archive} has no data_batch_1.bin, data_batch_2.bin`,
    'expected the CIFAR-10 binary version, with cifar-10-batches-bin/',
  ]);
});

test('cifar: empty batch files, garbage and cut archives are FormatErrors', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'test_batch.bin'), new Uint8Array(0));
  await expectRejects(
    readCifar(dir, { variant: 'cifar10', split: 'test' }),
    FormatError,
    'E_FORMAT',
    [`cifar: ${join(dir, 'test_batch.bin')} is empty (expected 3,073-byte records)`],
  );
  const garbage = join(dir, 'garbage.tar.gz');
  await writeFile(garbage, Uint8Array.from([0x1f, 0x8b, 8, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
  await expectRejects(
    readCifar(garbage, { variant: 'cifar10', split: 'test' }),
    FormatError,
    'E_FORMAT',
    [`cifar: ${garbage} is not a readable .tar.gz or .tar archive`],
  );
  const cut = join(dir, 'cut.tar.gz');
  await writeTar(cut, [['test_batch.bin', records([[1], [2]], [1, 2])]]);
  const bytes = await readFile(cut);
  await writeFile(cut, bytes.subarray(0, bytes.length >> 1));
  await expectRejects(
    readCifar(cut, { variant: 'cifar10', split: 'test' }),
    FormatError,
    'E_FORMAT',
    [`cifar: ${cut} is not a readable`],
  );
});

test('cifar: fine labels on CIFAR-10 or an unknown variant are UsageErrors', async (t) => {
  const dir = await tempDir(t);
  await expectRejects(
    readCifar(dir, { variant: 'cifar10', split: 'test', labels: 'fine' }),
    UsageError,
    'E_USAGE',
    ["labels 'fine' exist only in cifar100"],
  );
  const bogus = { variant: 'cifar11', split: 'test' } as unknown as CifarOptions;
  await expectRejects(readCifar(dir, bogus), UsageError, 'E_USAGE', ["unknown variant 'cifar11'"]);
});

test('cifar: an empty archive file is a FormatError', async (t) => {
  const path = join(await tempDir(t), 'empty.tar.gz');
  await writeFile(path, new Uint8Array(0));
  await expectRejects(
    readCifar(path, { variant: 'cifar10', split: 'test' }),
    FormatError,
    'E_FORMAT',
    [`cifar: ${path} is empty (expected a folder, a .tar.gz or a .tar)`],
  );
});
