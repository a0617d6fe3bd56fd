/**
 * readImageHeader on headers written byte by byte from the PNG, JPEG and WebP specifications.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { readImageHeader } from '../../src/data/image-header.js';
import { FormatError } from '../../src/errors.js';
import { requireChromium } from '../helpers/browser.js';
import { greyPng } from '../helpers/png.js';

function bytes(...parts: Array<number[] | string>): Uint8Array {
  return Uint8Array.from(
    parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)),
  );
}

/** A WebP file: RIFF header, then one chunk whose first bytes are `data` (padded). */
function webp(chunk: string, data: number[]): Uint8Array {
  return bytes('RIFF', [0, 0, 0, 0], 'WEBP', chunk, [0, 0, 0, 0], data, new Array(16).fill(0));
}

test('PNG: width and height from IHDR', () => {
  assert.deepEqual(readImageHeader(greyPng(300, 20, 0), 'a.png'), {
    format: 'png',
    mimeType: 'image/png',
    width: 300,
    height: 20,
  });
});

test('JPEG: size from the first start-of-frame marker, after other segments', () => {
  const jpeg = bytes(
    [0xff, 0xd8],
    [0xff, 0xe0, 0x00, 0x06, 1, 2, 3, 4], // APP0, 4 bytes of payload
    [0xff, 0xc4, 0x00, 0x04, 9, 9], // DHT shares the SOF range and has no size
    [0xff, 0xc2, 0x00, 0x11, 8, 0x01, 0xe0, 0x02, 0x80, 3], // progressive SOF: 480 x 640
  );
  assert.deepEqual(readImageHeader(jpeg, 'a.jpg'), {
    format: 'jpeg',
    mimeType: 'image/jpeg',
    width: 640,
    height: 480,
  });
});

test('WebP: lossy (VP8), lossless (VP8L) and extended (VP8X) headers', () => {
  // VP8: frame tag, start code 9d 01 2a, then 14-bit width and height (little-endian).
  const lossy = webp('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
  assert.deepEqual(readImageHeader(lossy, 'a.webp'), {
    format: 'webp',
    mimeType: 'image/webp',
    width: 320,
    height: 240,
  });
  // VP8L: 0x2f, then width-1 and height-1 in 14 bits each: 99 | 49 << 14 = 0x000c4063.
  const lossless = webp('VP8L', [0x2f, 0x63, 0x40, 0x0c, 0x00]);
  assert.deepEqual(
    [readImageHeader(lossless, 'b.webp').width, readImageHeader(lossless, 'b.webp').height],
    [100, 50],
  );
  // VP8X: flags, 3 reserved bytes, canvas width-1 and height-1 in 24 bits each: 1999, 2.
  const extended = webp('VP8X', [0x10, 0, 0, 0, 0xcf, 0x07, 0x00, 0x02, 0x00, 0x00]);
  assert.deepEqual(
    [readImageHeader(extended, 'c.webp').width, readImageHeader(extended, 'c.webp').height],
    [2000, 3],
  );
});

test('non-images and truncated headers are FormatErrors that name the image', () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [bytes('hello, world'), /^x: not a PNG, JPEG or WebP image \(12 bytes\)$/],
    [new Uint8Array(0), /not a PNG, JPEG or WebP image \(0 bytes\)/],
    [greyPng(4, 4, 0).subarray(0, 20), /^x: the png header is truncated or corrupt$/],
    [bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), /the jpeg header is truncated/],
    [webp('VP8 ', [0, 0, 0, 0x11, 0x22, 0x33]), /the webp header is truncated or corrupt/],
  ];
  for (const [data, message] of cases) {
    assert.throws(
      () => readImageHeader(data, 'x'),
      (error: unknown) =>
        error instanceof FormatError && error.code === 'E_FORMAT' && message.test(error.message),
    );
  }
  // A PNG header that gives a zero width.
  const zero = greyPng(1, 1, 0);
  zero.writeUInt32BE(0, 16);
  assert.throws(
    () => readImageHeader(zero, 'z.png'),
    /z\.png: the png header is truncated or corrupt/,
  );
});

test('JPEG, WebP and PNG files that Chromium encodes read at their size', async (t) => {
  const browser = await requireChromium(t);
  if (!browser) return;
  const page = await browser.newPage();
  const uris = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 37;
    canvas.height = 23;
    const context = canvas.getContext('2d');
    if (context === null) return [];
    context.fillStyle = '#c33';
    context.fillRect(0, 0, 20, 10);
    return ['image/jpeg', 'image/webp', 'image/png'].map((type) => canvas.toDataURL(type, 0.9));
  });
  const headers = uris.map((uri) => {
    const data = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
    const { format, width, height } = readImageHeader(data, 'canvas');
    return [format, width, height];
  });
  assert.deepEqual(headers, [
    ['jpeg', 37, 23],
    ['webp', 37, 23],
    ['png', 37, 23],
  ]);
});
