/**
 * Generated images on disk for the image-folder and detector tests: normal images are smooth
 * blobs, anomalies are stripes; plus the bad files a folder may hold.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

import sharp from 'sharp';

/** A seeded generator of floats in [0, 1) for reproducible test images. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** RGB bytes `[height, width, 3]` of a smooth blob at a random place, on a dark background. */
export function blob(size: number, random: () => number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const cx = size * (0.35 + 0.3 * random());
  const cy = size * (0.35 + 0.3 * random());
  const r = size * (0.2 + 0.1 * random());
  const tint = [0.8 + 0.2 * random(), 0.6 + 0.2 * random(), 0.3 + 0.2 * random()];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d2 = ((x - cx) ** 2 + (y - cy) ** 2) / (r * r);
      const v = Math.exp(-d2);
      for (let k = 0; k < 3; k++)
        out[(y * size + x) * 3 + k] = Math.round(20 + 220 * v * (tint[k] ?? 1));
    }
  }
  return out;
}

/** RGB bytes `[height, width, 3]` of hard vertical stripes of random period. */
export function stripes(size: number, random: () => number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const period = 2 + Math.floor(3 * random());
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = Math.floor(x / period) % 2 === 0 ? 250 : 5;
      for (let k = 0; k < 3; k++) out[(y * size + x) * 3 + k] = v;
    }
  }
  return out;
}

export type Encoding = 'png' | 'jpeg' | 'webp';

/** Encodes RGB bytes `[size, size, 3]` in `format`. */
export async function encode(rgb: Uint8Array, size: number, format: Encoding): Promise<Buffer> {
  const image = sharp(rgb, { raw: { width: size, height: size, channels: 3 } });
  if (format === 'png') return image.png().toBuffer();
  if (format === 'jpeg') return image.jpeg({ quality: 95 }).toBuffer();
  return image.webp({ lossless: true }).toBuffer();
}

/**
 * Writes `count` images made by `make` into `dir` as `name-000.ext`, cycling through PNG,
 * JPEG and WebP (or only `formats`); returns the paths in order.
 */
export async function writeImages(
  dir: string,
  options: {
    name: string;
    count: number;
    size: number;
    make: (size: number, random: () => number) => Uint8Array;
    seed: number;
    formats?: Encoding[];
  },
): Promise<string[]> {
  const formats = options.formats ?? ['png', 'jpeg', 'webp'];
  const random = seeded(options.seed);
  const paths: string[] = [];
  for (let i = 0; i < options.count; i++) {
    const format = formats[i % formats.length] as Encoding;
    const ext = format === 'jpeg' ? 'jpg' : format;
    const path = join(dir, `${options.name}-${String(i).padStart(3, '0')}.${ext}`);
    await writeFile(path, await encode(options.make(options.size, random), options.size, format));
    paths.push(path);
  }
  return paths;
}

/** CRC-32 of `bytes`, as PNG chunks need. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A tiny, valid-looking PNG whose header says `width × height` (8-bit greyscale) but whose
 * data holds a single row: a decompression bomb's header without the allocation.
 */
export function hugePngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const row = deflateSync(Buffer.alloc(1 + width));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', row),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
