/**
 * A minimal PNG encoder and decoder for tests: 8-bit grey, RGB or RGBA, no interlacing. The
 * encoder writes filter 0 rows; the decoder undoes all five filters, so it also reads PNGs that
 * other encoders wrote.
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';

/** Decoded pixels, row-major, `channels` bytes per pixel. */
export interface Pixels {
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

const signature = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const colourTypes = { 1: 0, 3: 2, 4: 6 } as const;

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Encodes pixels as a PNG. */
export function encodePng(pixels: Pixels): Buffer {
  const { width, height, channels, data } = pixels;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, colourTypes[channels], 0, 0, 0], 8);
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ];
  return Buffer.concat([signature, ...parts]);
}

/** A `width` x `height` image of one grey level (0..255). */
export function greyPng(width: number, height: number, level: number): Buffer {
  return encodePng({
    width,
    height,
    channels: 1,
    data: new Uint8Array(width * height).fill(level),
  });
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function unfilter(raw: Uint8Array, width: number, height: number, bpp: number): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const a = x >= bpp ? (out[y * stride + x - bpp] ?? 0) : 0;
      const b = y > 0 ? (out[(y - 1) * stride + x] ?? 0) : 0;
      const c = x >= bpp && y > 0 ? (out[(y - 1) * stride + x - bpp] ?? 0) : 0;
      const predictors = [0, a, b, (a + b) >> 1, paeth(a, b, c)];
      const predictor = predictors[filter ?? 0];
      if (predictor === undefined) throw new Error(`png: row ${y} has unknown filter ${filter}`);
      out[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  return out;
}

/** Decodes an 8-bit, non-interlaced grey, RGB or RGBA PNG; throws on anything else. */
export function decodePng(bytes: Uint8Array): Pixels {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 8 || !buffer.subarray(0, 8).equals(signature))
    throw new Error('png: bad signature');
  let at = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (at + 12 <= buffer.length) {
    const length = buffer.readUInt32BE(at);
    const type = buffer.toString('latin1', at + 4, at + 8);
    const body = buffer.subarray(at + 8, at + 8 + length);
    if (body.length !== length) throw new Error(`png: chunk ${type} is truncated`);
    if (type === 'IHDR') header = body;
    if (type === 'IDAT') idat.push(body);
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (header === undefined || idat.length === 0) throw new Error('png: no IHDR or IDAT');
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const channels = ({ 0: 1, 2: 3, 6: 4 } as const)[header[9] as 0 | 2 | 6];
  if (header[8] !== 8 || channels === undefined || header[12] !== 0) {
    throw new Error('png: only 8-bit grey, RGB and RGBA without interlacing');
  }
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (width * channels + 1) * height) throw new Error('png: wrong data length');
  return { width, height, channels, data: unfilter(raw, width, height, channels) };
}
