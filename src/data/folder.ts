/**
 * Folders of PNG, JPEG and WebP images: each file is decoded with sharp, converted to the
 * model's channels and resized to its input size, into one `ImageSet`. Files that cannot be
 * read are returned as failures, never dropped in silence.
 *
 * A folder is read without its subfolders unless `recursive` is set. Paths are sorted (by
 * code unit), so the same folder always gives the same image order.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';

import { DuiadError, type ErrorCode, FormatError, NotFoundError, ValueError } from '../errors.js';
import type { ImageSet } from './types.js';
import { formatCount as fmt, readFailure } from './util.js';

/**
 * How an image of any size becomes the model's input:
 * - `fill`: stretch to exactly `width × height`, ignoring the aspect ratio (nothing is cut);
 * - `cover`: keep the aspect ratio, scale to cover the box and crop the centre;
 * - `contain`: keep the aspect ratio, scale to fit inside the box and pad with black.
 */
export type ResizeMode = 'fill' | 'cover' | 'contain';

/** Every ResizeMode, in the order help texts list them. */
export const resizeModes: readonly ResizeMode[] = ['fill', 'cover', 'contain'];

/** The model's input: what every image is converted to. */
export interface InputSpec {
  /**
   * 1: greyscale, the luminance Y = 0.2126 R + 0.7152 G + 0.0722 B of linear light encoded
   * with the sRGB curve; 3: sRGB. An alpha channel is flattened onto black.
   */
  channels: 1 | 3;
  height: number;
  width: number;
  resize: ResizeMode;
}

/** Options of the image readers. */
export interface ReadImageOptions {
  /** Images with more pixels (width × height, from the header) are refused before decoding. */
  maxPixels?: number;
  /** Files larger than this many bytes are refused before they are read. */
  maxBytes?: number;
}

/** Options of `readImageFolder`. */
export interface FolderOptions extends ReadImageOptions {
  /** Also read the subfolders (default false: only the folder's own files). */
  recursive?: boolean;
}

/** The defaults: 3 channels, 32×32, stretched; at most 50 megapixels and 256 MiB a file. */
export const defaultInputSpec: Readonly<InputSpec> = {
  channels: 3,
  height: 32,
  width: 32,
  resize: 'fill',
};
export const defaultMaxPixels = 50_000_000;
export const defaultMaxBytes = 256 * 2 ** 20;

/** A file that could not be used as an image, and why. */
export interface ImageFailure {
  path: string;
  /** Stable error code (see `src/errors.ts`). */
  code: ErrorCode;
  /** What went wrong, naming the file. */
  error: string;
}

/** An image folder as read: the images (all labelled 0), their paths, and the failures. */
export interface FolderImages {
  set: ImageSet;
  /** `paths[i]` is the file of image `i`. */
  paths: string[];
  /** Files that were skipped, in path order. */
  failures: ImageFailure[];
}

/** Images at once in flight through sharp (it decodes on libuv's thread pool). */
const concurrency = 4;

/** Throws ValueError unless `input` is a usable InputSpec. */
export function checkInputSpec(input: InputSpec, where: string): void {
  if (input.channels !== 1 && input.channels !== 3) {
    throw new ValueError(`${where}: channels must be 1 or 3 (got ${String(input.channels)})`);
  }
  for (const [name, v] of [
    ['height', input.height],
    ['width', input.width],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) {
      throw new ValueError(`${where}: ${name} must be an integer from 1 to 4096 (got ${v})`);
    }
  }
  if (!resizeModes.includes(input.resize)) {
    throw new ValueError(
      `${where}: resize must be one of ${resizeModes.join(', ')} (got '${String(input.resize)}')`,
    );
  }
}

/** The image format of `bytes` from its magic number, or null for anything else. */
export function sniffFormat(bytes: Uint8Array): 'png' | 'jpeg' | 'webp' | null {
  const at = (i: number) => bytes[i] ?? -1;
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((b, i) => at(i) === b)) return 'png';
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'jpeg';
  const ascii = (start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return null;
}

/**
 * Decodes one encoded image (PNG, JPEG or WebP) into the model's input: `[channels, height,
 * width]` uint8, channel-planar. `name` is the file or name used in error messages.
 * FormatError for bytes that are not a readable image of those formats; ValueError for an
 * image larger than `maxPixels`, checked from its header before it is decoded.
 */
export async function decodeImage(
  bytes: Uint8Array,
  name: string,
  options: ReadImageOptions & { input: InputSpec },
): Promise<Uint8Array> {
  const { input } = options;
  const maxPixels = options.maxPixels ?? defaultMaxPixels;
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new FormatError(`image: ${name} is not a PNG, JPEG or WebP file`);
  }

  // Read the header only, and refuse absurd sizes before any pixel is decoded.
  const meta = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch((error: unknown) => {
      throw new FormatError(`image: ${name} is a corrupt ${format} file (${reason(error)})`);
    });
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > maxPixels) {
    throw new ValueError(
      `image: ${name} is ${fmt(width)}×${fmt(height)} pixels, more than the limit of ` +
        `${fmt(maxPixels)} (raise maxPixels / --max-pixels to read it)`,
    );
  }

  // Decode, orient by EXIF, drop alpha, convert channels, resize.
  let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning' })
    .rotate()
    .flatten({ background: { r: 0, g: 0, b: 0 } });
  pipeline = input.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  pipeline = pipeline.resize(input.width, input.height, {
    fit: input.resize,
    position: 'centre',
    background: { r: 0, g: 0, b: 0 },
  });
  const { data, info } = await pipeline
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw new FormatError(`image: ${name} is a corrupt ${format} file (${reason(error)})`);
    });
  if (
    info.channels !== input.channels ||
    info.width !== input.width ||
    info.height !== input.height ||
    data.length !== input.channels * input.height * input.width
  ) {
    throw new FormatError(
      `image: ${name} decoded to ${info.channels}×${info.height}×${info.width}, expected ` +
        `${input.channels}×${input.height}×${input.width}`,
    );
  }
  return toPlanar(data, input);
}

/** The first line of a sharp error, for messages. */
function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').trim();
}

/** Interleaved `[height, width, channels]` bytes to planar `[channels, height, width]`. */
function toPlanar(data: Uint8Array, input: InputSpec): Uint8Array {
  const c = input.channels;
  const plane = input.height * input.width;
  if (c === 1) return Uint8Array.from(data.subarray(0, plane));
  const out = new Uint8Array(c * plane);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < c; k++) out[k * plane + p] = data[p * c + k] as number;
  }
  return out;
}

/**
 * Reads a file's bytes for decoding: NotFoundError if it cannot be read, ValueError if it is
 * larger than `maxBytes`. Anything but a regular file (a FIFO, a device) is refused unread.
 */
export async function readImageFile(
  path: string,
  options: ReadImageOptions = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  const info = await stat(path).catch((error: unknown) => {
    throw new NotFoundError(`image: ${path} ${readFailure(error)}`, { cause: error });
  });
  if (!info.isFile()) throw new NotFoundError(`image: ${path} is not a regular file`);
  if (info.size > maxBytes) {
    throw new ValueError(
      `image: ${path} has ${fmt(info.size)} bytes, more than the limit of ${fmt(maxBytes)}`,
    );
  }
  return readFile(path).catch((error: unknown) => {
    throw new NotFoundError(`image: ${path} ${readFailure(error)}`, { cause: error });
  });
}

/** An ImageFailure for `error`; errors that are not DuiadErrors are rethrown. */
export function failureOf(path: string, error: unknown): ImageFailure {
  if (error instanceof DuiadError) return { path, code: error.code, error: error.message };
  throw error;
}

/**
 * The files of `dir`, sorted; with `recursive`, those of its subfolders too. Hidden entries
 * (names starting with a dot) are left out. NotFoundError if `dir` is not a readable folder.
 * When `unreadable` is given, a subfolder that cannot be read and a name that is not valid
 * UTF-8 (no string path can open it) are added to it and skipped; without it, an unreadable
 * subfolder's NotFoundError ends the listing.
 */
export async function listFolder(
  dir: string,
  recursive = false,
  unreadable?: ImageFailure[],
): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' }).catch(
    (error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOTDIR' ? 'is not a folder' : readFailure(error);
      throw new NotFoundError(`folder: ${dir} ${why}`, { cause: error });
    },
  );
  const files: string[] = [];
  for (const entry of entries) {
    const name = utf8Name(entry.name);
    if (name.text.startsWith('.')) continue;
    const path = join(dir, name.text);
    if (!name.valid && unreadable !== undefined) {
      // Paths are strings, and this one cannot be spelt as one: name it rather than miss it.
      const kind = entry.isDirectory() ? 'folder' : 'image';
      const error = `${kind}: ${path}: the name is not valid UTF-8 and cannot be opened; rename it`;
      unreadable.push({ path, code: 'E_NOT_FOUND', error });
      continue;
    }
    if (entry.isDirectory()) {
      if (!recursive) continue;
      try {
        files.push(...(await listFolder(path, true, unreadable)));
      } catch (error) {
        if (unreadable === undefined || !(error instanceof NotFoundError)) throw error;
        unreadable.push(failureOf(path, error));
      }
    } else {
      files.push(path);
    }
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A file name's text, and whether its bytes were valid UTF-8 (else the text is lossy). */
function utf8Name(bytes: Uint8Array): { text: string; valid: boolean } {
  try {
    return { text: strictUtf8.decode(bytes), valid: true };
  } catch {
    return { text: Buffer.from(bytes).toString('utf8'), valid: false };
  }
}

/** Decodes every path (at most `concurrency` at once); a result per path, in order. */
export async function decodeFiles(
  paths: readonly string[],
  options: ReadImageOptions & { input: InputSpec },
): Promise<Array<Uint8Array | ImageFailure>> {
  const results = new Array<Uint8Array | ImageFailure>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const path = paths[i] as string;
      try {
        results[i] = await decodeImage(await readImageFile(path, options), path, options);
      } catch (error) {
        results[i] = failureOf(path, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return results;
}

/**
 * Reads every PNG, JPEG and WebP image of `dir` into an ImageSet of `input`'s geometry (all
 * labels 0). Files that cannot be used are listed in `failures`. NotFoundError if the folder
 * cannot be read or holds no file; FormatError if none of its files is a readable image.
 */
export async function readImageFolder(
  dir: string,
  options: FolderOptions & { input?: InputSpec } = {},
): Promise<FolderImages> {
  const input = options.input ?? defaultInputSpec;
  checkInputSpec(input, 'folder');
  const unreadable: ImageFailure[] = [];
  const files = await listFolder(dir, options.recursive ?? false, unreadable);
  if (files.length === 0) {
    const why =
      unreadable.length > 0
        ? ` it can read (${unreadable[0]?.error})`
        : options.recursive
          ? ''
          : ' (subfolders are not read without recursive)';
    throw new NotFoundError(`folder: ${dir} holds no files${why}`);
  }
  const decoded = await decodeFiles(files, { ...options, input });
  const failures = [
    ...unreadable,
    ...decoded.filter((d): d is ImageFailure => !(d instanceof Uint8Array)),
  ];
  const images = decoded.filter((d): d is Uint8Array => d instanceof Uint8Array);
  if (images.length === 0) {
    const first = failures[0]?.error ?? '';
    throw new FormatError(
      `folder: ${dir} holds no readable PNG, JPEG or WebP image (${fmt(files.length)} files, ` +
        `all skipped; first: ${first})`,
    );
  }
  const paths = files.filter((_, i) => decoded[i] instanceof Uint8Array);
  return { set: packImages(images, input), paths, failures };
}

/** Packs planar images of `input`'s geometry into one ImageSet labelled 0. */
export function packImages(images: readonly Uint8Array[], input: InputSpec): ImageSet {
  const bytes = input.channels * input.height * input.width;
  const pixels = new Uint8Array(images.length * bytes);
  images.forEach((image, i) => pixels.set(image, i * bytes));
  return {
    images: pixels,
    labels: new Int32Array(images.length),
    count: images.length,
    channels: input.channels,
    height: input.height,
    width: input.width,
  };
}
