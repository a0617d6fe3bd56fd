/**
 * Reads the format and size of an encoded image (PNG, JPEG, WebP) from its header, without
 * decoding pixels: the server uses it to turn away non-images and oversized images before they
 * reach a scorer, and the report to label data URIs with the right media type.
 */
import { FormatError } from '../errors.js';

/** The encoded image formats duiad accepts. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** What an image's header says. */
export interface ImageHeader {
  format: ImageFormat;
  /** The media type of the format, e.g. `image/png`. */
  mimeType: string;
  /** Size in pixels. */
  width: number;
  height: number;
}

const mimeTypes: Readonly<Record<ImageFormat, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte);
}

function pngSize(bytes: Uint8Array, view: DataView): [number, number] | null {
  if (bytes.length < 24 || ascii(bytes, 12, 4) !== 'IHDR') return null;
  return [view.getUint32(16), view.getUint32(20)];
}

/** Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
}

function jpegSize(bytes: Uint8Array, view: DataView): [number, number] | null {
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] ?? 0;
    // Fill bytes and markers without a length (RSTn, TEM) are one or two bytes long.
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    if (isStartOfFrame(marker)) return [view.getUint16(at + 7), view.getUint16(at + 5)];
    if (marker === 0xd9 || marker === 0xda) return null;
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

function webpSize(bytes: Uint8Array, view: DataView): [number, number] | null {
  if (bytes.length < 30) return null;
  const chunk = ascii(bytes, 12, 4);
  if (chunk === 'VP8X') {
    const width = 1 + (view.getUint32(24, true) & 0xffffff);
    const height = 1 + (view.getUint32(26, true) >>> 8);
    return [width, height];
  }
  if (chunk === 'VP8 ') {
    if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return null;
    return [view.getUint16(26, true) & 0x3fff, view.getUint16(28, true) & 0x3fff];
  }
  if (chunk === 'VP8L') {
    if (bytes[20] !== 0x2f) return null;
    const bits = view.getUint32(21, true);
    return [1 + (bits & 0x3fff), 1 + ((bits >>> 14) & 0x3fff)];
  }
  return null;
}

function formatOf(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, pngSignature)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') {
    return 'webp';
  }
  return null;
}

/**
 * The format and size of an encoded image. Throws a FormatError naming `name` when the bytes are
 * not a PNG, JPEG or WebP, or their header is truncated or gives a zero size. Only the header is
 * checked: an image that passes can still fail to decode.
 */
export function readImageHeader(bytes: Uint8Array, name: string): ImageHeader {
  const format = formatOf(bytes);
  if (format === null) {
    throw new FormatError(`${name}: not a PNG, JPEG or WebP image (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size =
    format === 'png'
      ? pngSize(bytes, view)
      : format === 'jpeg'
        ? jpegSize(bytes, view)
        : webpSize(bytes, view);
  if (size === null || size[0] === 0 || size[1] === 0) {
    throw new FormatError(`${name}: the ${format} header is truncated or corrupt`);
  }
  return { format, mimeType: mimeTypes[format], width: size[0], height: size[1] };
}
