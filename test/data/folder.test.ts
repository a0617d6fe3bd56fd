/**
 * Image folders: PNG, JPEG and WebP of any size become one ImageSet of the model's input;
 * bad files are listed with a typed error, absurd images refused from their header.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import sharp from 'sharp';

import {
  decodeImage,
  defaultInputSpec,
  readImageFolder,
  sniffFormat,
} from '../../src/data/folder.js';
import { DuiadError, FormatError, NotFoundError, ValueError } from '../../src/errors.js';
import { tempDir } from '../helpers/data.js';
import { blob, encode, hugePngHeader, seeded, writeImages } from '../helpers/images.js';

/** Asserts `promise` rejects with an error of `type`, `code`, and a message matching all. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => DuiadError,
  code: string,
  ...patterns: (RegExp | string)[]
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), e.message);
      else assert.match(e.message, p);
    }
    return true;
  });
}

test('decodeImage: planar layout, channels and stretch to the input size', async () => {
  // A 2×1 PNG: a red pixel, then a blue one.
  const rgb = Uint8Array.from([255, 0, 0, 0, 0, 255]);
  const png = await sharp(rgb, { raw: { width: 2, height: 1, channels: 3 } })
    .png()
    .toBuffer();
  assert.equal(sniffFormat(png), 'png');
  const same = await decodeImage(png, 'two.png', {
    input: { channels: 3, height: 1, width: 2, resize: 'fill' },
  });
  // [channels, height, width]: the red plane, the green plane, the blue plane.
  assert.deepEqual([...same], [255, 0, 0, 0, 0, 255]);

  // Greyscale is the luminance Y = 0.2126 R + 0.7152 G + 0.0722 B on linear light, encoded
  // back with the sRGB curve: red gives Y 0.2126 → 127, blue 0.0722 → 76, grey 128 stays 128.
  const srgb = (y: number) => Math.round(255 * (1.055 * y ** (1 / 2.4) - 0.055));
  assert.deepEqual([srgb(0.2126), srgb(0.0722), srgb(0.7152)], [127, 76, 220]);
  const four = await sharp(Uint8Array.from([255, 0, 0, 0, 0, 255, 0, 255, 0, 128, 128, 128]), {
    raw: { width: 4, height: 1, channels: 3 },
  })
    .png()
    .toBuffer();
  const grey = await decodeImage(four, 'four.png', {
    input: { channels: 1, height: 1, width: 4, resize: 'fill' },
  });
  assert.deepEqual([...grey], [127, 76, 220, 128]);

  // A uniform 7×3 image stretched to 4×4 stays uniform.
  const flat = await sharp({
    create: { width: 7, height: 3, channels: 3, background: { r: 10, g: 100, b: 200 } },
  })
    .webp({ lossless: true })
    .toBuffer();
  const stretched = await decodeImage(flat, 'flat.webp', {
    input: { channels: 3, height: 4, width: 4, resize: 'fill' },
  });
  assert.deepEqual(
    [...stretched],
    [...Array(16).fill(10), ...Array(16).fill(100), ...Array(16).fill(200)],
  );
});

test('decodeImage: cover crops the centre, contain pads with black', async () => {
  // 4×2: left half black, right half white.
  const rgb = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++)
    for (let x = 2; x < 4; x++) rgb.fill(255, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
  const png = await sharp(rgb, { raw: { width: 4, height: 2, channels: 3 } })
    .png()
    .toBuffer();
  const input = { channels: 1, height: 2, width: 2 } as const;
  const cover = await decodeImage(png, 'c.png', { input: { ...input, resize: 'cover' } });
  // The centre 2×2 is one black and one white column.
  assert.ok((cover[0] as number) < 60 && (cover[1] as number) > 195, `cover ${[...cover]}`);
  const contain = await decodeImage(png, 'c.png', { input: { ...input, resize: 'contain' } });
  // Scaled to 2×1 and padded: one row of image, one row of black padding.
  const rows = [[...contain.subarray(0, 2)], [...contain.subarray(2, 4)]];
  assert.ok(
    rows.some((r) => r.every((v) => v === 0)),
    `contain ${[...contain]}`,
  );
});

test('readImageFolder: PNG, JPEG and WebP of several sizes, sorted, with bad files listed', async (t) => {
  const dir = await tempDir(t);
  await writeImages(dir, { name: 'b', count: 3, size: 40, make: blob, seed: 1 });
  await writeImages(dir, { name: 'a', count: 3, size: 17, make: blob, seed: 2 });
  await writeFile(join(dir, 'notes.png'), 'this is text, not a PNG\n');
  const png = await encode(blob(20, seeded(3)), 20, 'png');
  await writeFile(join(dir, 'cut.png'), png.subarray(0, png.length - 30));
  await writeFile(join(dir, 'huge.png'), hugePngHeader(20_000, 20_000));
  await writeFile(join(dir, '.hidden.png'), 'ignored');
  await mkdir(join(dir, 'sub'));
  await writeImages(join(dir, 'sub'), { name: 'c', count: 2, size: 9, make: blob, seed: 4 });

  const folder = await readImageFolder(dir, {
    input: { ...defaultInputSpec, height: 12, width: 10 },
  });
  assert.equal(folder.set.count, 6);
  assert.deepEqual(folder.paths, [
    join(dir, 'a-000.png'),
    join(dir, 'a-001.jpg'),
    join(dir, 'a-002.webp'),
    join(dir, 'b-000.png'),
    join(dir, 'b-001.jpg'),
    join(dir, 'b-002.webp'),
  ]);
  assert.deepEqual([folder.set.channels, folder.set.height, folder.set.width], [3, 12, 10]);
  assert.equal(folder.set.images.length, 6 * 3 * 12 * 10);
  assert.deepEqual([...folder.set.labels], [0, 0, 0, 0, 0, 0]);

  // Every bad file is listed, in path order, with its code and a message naming it.
  const failures = folder.failures.map((f) => [f.path, f.code]);
  assert.deepEqual(failures, [
    [join(dir, 'cut.png'), 'E_FORMAT'],
    [join(dir, 'huge.png'), 'E_VALUE'],
    [join(dir, 'notes.png'), 'E_FORMAT'],
  ]);
  for (const f of folder.failures) assert.ok(f.error.includes(f.path), f.error);
  assert.match(folder.failures[2]?.error ?? '', /is not a PNG, JPEG or WebP file/);
  assert.match(folder.failures[1]?.error ?? '', /20,000×20,000 pixels, more than the limit/);

  // Subfolders only with recursive; reading twice gives the same bytes.
  const deep = await readImageFolder(dir, {
    recursive: true,
    input: { ...defaultInputSpec, height: 12, width: 10 },
  });
  assert.equal(deep.set.count, 8);
  assert.equal(deep.paths[6], join(dir, 'sub', 'c-000.png'));
  assert.deepEqual(deep.set.images.subarray(0, 6 * 360), folder.set.images);
});

test('a 20000×20000 PNG header is refused by name before decoding, and the limit is an option', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'bomb.png');
  const bytes = hugePngHeader(20_000, 20_000);
  assert.ok(bytes.length < 1000, `the test file itself is tiny (${bytes.length} bytes)`);
  await writeFile(path, bytes);
  const started = performance.now();
  await rejectsWith(
    decodeImage(bytes, path, { input: defaultInputSpec }),
    ValueError,
    'E_VALUE',
    path,
    '20,000×20,000',
    '50,000,000',
    '--max-pixels',
  );
  assert.ok(performance.now() - started < 2000, 'refused from the header, not by decoding');
  // A lower limit refuses a small image too.
  const small = await encode(blob(20, seeded(1)), 20, 'png');
  await rejectsWith(
    decodeImage(small, 'small.png', { input: defaultInputSpec, maxPixels: 399 }),
    ValueError,
    'E_VALUE',
    'small.png is 20×20 pixels, more than the limit of 399',
  );
  const ok = await decodeImage(small, 'small.png', { input: defaultInputSpec, maxPixels: 400 });
  assert.equal(ok.length, 3 * 32 * 32);
});

test('corrupt images and non-images are FormatErrors naming the file', async () => {
  const png = await encode(blob(20, seeded(5)), 20, 'png');
  await rejectsWith(
    decodeImage(png.subarray(0, 60), 'cut.png', { input: defaultInputSpec }),
    FormatError,
    'E_FORMAT',
    /cut\.png is a corrupt png file/,
  );
  const jpeg = await encode(blob(20, seeded(5)), 20, 'jpeg');
  await rejectsWith(
    decodeImage(jpeg.subarray(0, jpeg.length / 2), 'half.jpg', { input: defaultInputSpec }),
    FormatError,
    'E_FORMAT',
    /half\.jpg is a corrupt jpeg file/,
  );
  await rejectsWith(
    decodeImage(Buffer.from('GIF89a......'), 'anim.gif', { input: defaultInputSpec }),
    FormatError,
    'E_FORMAT',
    'anim.gif is not a PNG, JPEG or WebP file',
  );
});

test('an empty folder, a folder of bad files and a missing folder are errors naming it', async (t) => {
  const dir = await tempDir(t);
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await rejectsWith(
    readImageFolder(empty),
    NotFoundError,
    'E_NOT_FOUND',
    `${empty} holds no files`,
  );
  const bad = join(dir, 'bad');
  await mkdir(bad);
  await writeFile(join(bad, 'a.png'), 'text');
  await writeFile(join(bad, 'b.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]));
  await rejectsWith(
    readImageFolder(bad),
    FormatError,
    'E_FORMAT',
    `${bad} holds no readable PNG, JPEG or WebP image (2 files, all skipped`,
  );
  const missing = join(dir, 'missing');
  await rejectsWith(readImageFolder(missing), NotFoundError, 'E_NOT_FOUND', missing, 'not found');
  await rejectsWith(
    readImageFolder(join(bad, 'a.png')),
    NotFoundError,
    'E_NOT_FOUND',
    'is not a folder',
  );
  await rejectsWith(
    readImageFolder(dir, { input: { ...defaultInputSpec, channels: 2 as 3 } }),
    ValueError,
    'E_VALUE',
    'channels must be 1 or 3 (got 2)',
  );
});

test('16-bit PNGs, alpha and greyscale inputs all become 8-bit images of the input', async () => {
  const input = { channels: 3, height: 2, width: 2, resize: 'fill' } as const;
  // 16-bit RGB, uniform (40000, 0, 65535) of 65535: 8-bit (156, 0, 255).
  const deep = await sharp(
    new Uint16Array(4 * 3).map((_, i) => [40000, 0, 65535][i % 3] as number),
    { raw: { width: 2, height: 2, channels: 3 } },
  )
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const fromDeep = await decodeImage(deep, 'deep.png', { input });
  assert.deepEqual([...fromDeep], [156, 156, 156, 156, 0, 0, 0, 0, 255, 255, 255, 255]);

  // RGBA, half transparent white: flattened onto black gives about half grey.
  const rgba = await sharp(
    new Uint8Array(16).fill(255).map((v, i) => (i % 4 === 3 ? 128 : v)),
    {
      raw: { width: 2, height: 2, channels: 4 },
    },
  )
    .png()
    .toBuffer();
  const flat = await decodeImage(rgba, 'alpha.png', { input });
  assert.equal(flat.length, 12);
  assert.ok(
    flat.every((v) => v === 128),
    `${[...flat]}`,
  );

  // A greyscale JPEG read as RGB repeats its value in all three channels.
  const grey = await sharp(new Uint8Array(4).fill(90), {
    raw: { width: 2, height: 2, channels: 1 },
  })
    .jpeg({ quality: 100 })
    .toBuffer();
  const rgb = await decodeImage(grey, 'grey.jpg', { input });
  assert.ok(
    rgb.every((v) => Math.abs(v - 90) <= 1),
    `${[...rgb]}`,
  );
});

test('files and folders whose names are not valid UTF-8 are skipped and named, not missed', async (t) => {
  const dir = await tempDir(t);
  const input = { ...defaultInputSpec, height: 8, width: 8 };
  await writeImages(dir, { name: 'a', count: 1, size: 12, make: blob, seed: 5, formats: ['png'] });
  await mkdir(join(dir, 'ok'));
  await writeImages(join(dir, 'ok'), {
    name: 'd',
    count: 1,
    size: 12,
    make: blob,
    seed: 6,
    formats: ['png'],
  });
  const png = await encode(blob(12, seeded(7)), 12, 'png');
  // Latin-1 names, as old archives have: 'b\xff.png' and the folder 'c\xe9' with an image.
  const dirBytes = Buffer.from(dir);
  const latin1 = (name: number[]) => Buffer.concat([dirBytes, Buffer.from('/'), Buffer.from(name)]);
  await writeFile(latin1([0x62, 0xff, 0x2e, 0x70, 0x6e, 0x67]), png);
  const folderBytes = latin1([0x63, 0xe9]);
  await mkdir(folderBytes);
  await writeFile(Buffer.concat([folderBytes, Buffer.from('/e.png')]), png);

  const read = await readImageFolder(dir, { recursive: true, input });
  assert.deepEqual(read.paths, [join(dir, 'a-000.png'), join(dir, 'ok', 'd-000.png')]);
  assert.equal(read.set.count, 2);
  assert.equal(read.failures.length, 2);
  for (const f of read.failures) {
    assert.equal(f.code, 'E_NOT_FOUND');
    assert.match(f.error, /not valid UTF-8 and cannot be opened; rename it/);
    assert.ok(f.error.includes(f.path), f.error);
  }

  // A folder holding nothing readable says why.
  const only = await tempDir(t);
  await mkdir(Buffer.concat([Buffer.from(only), Buffer.from('/'), Buffer.from([0x66, 0xfe])]));
  await rejectsWith(
    readImageFolder(only, { recursive: true, input }),
    NotFoundError,
    'E_NOT_FOUND',
    'holds no files it can read',
    'not valid UTF-8',
  );
});
