/**
 * Reader for the binary version of CIFAR-10 and CIFAR-100, from the extracted folder or
 * straight from the official `.tar.gz` (or an uncompressed `.tar`).
 *
 * Each record is the label byte(s) followed by 3,072 pixel bytes: the 32x32 red plane, then
 * green, then blue, each row by row, which is already `[channels, height, width]`.
 * CIFAR-10 records have one label byte (0..9); files `data_batch_1.bin` .. `data_batch_5.bin`
 * (train) and `test_batch.bin` (test). CIFAR-100 records have a coarse (0..19) and a fine
 * (0..99) label byte; files `train.bin` and `test.bin`.
 *
 * Record numbers in error messages count from 1. Nothing is cached to disk.
 */

import { createReadStream, existsSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import { FormatError, NotFoundError, UsageError } from '../errors.js';
import type { ImageSet, Split } from './types.js';
import { formatCount as fmt, readFailure } from './util.js';

/** Which CIFAR dataset a source holds. */
export type CifarVariant = 'cifar10' | 'cifar100';

/** Which CIFAR-100 labels to return: the 20 superclasses or the 100 classes. */
export type CifarLabels = 'coarse' | 'fine';

/** Options of `readCifar`. */
export interface CifarOptions {
  /** The dataset the source holds. */
  variant: CifarVariant;
  /** The split to read. */
  split: Split;
  /** CIFAR-100 only: which label byte becomes `labels`. Default `'coarse'`. */
  labels?: CifarLabels;
}

/** The file layout of one CIFAR variant. */
interface CifarLayout {
  title: string;
  /** The folder the official archive extracts to. */
  folder: string;
  /** Number of classes per label byte, in record order (CIFAR-100: coarse, fine). */
  classCounts: readonly number[];
  files: Readonly<Record<Split, readonly string[]>>;
}

/** An archive entry as the extractor yields it: its header and its data chunks. */
type TarEntry = AsyncIterable<unknown> & { header: Header };

/** One batch file's bytes and the name it is reported under. */
interface CifarFile {
  name: string;
  bytes: Uint8Array;
}

const channels = 3;
const side = 32;
const pixelBytes = channels * side * side;
/** Largest archive entry read, in bytes (2 GiB); a CIFAR batch file is 30 MB. */
const maxEntryBytes = 2 ** 31;

const layouts: Readonly<Record<CifarVariant, CifarLayout>> = {
  cifar10: {
    title: 'CIFAR-10',
    folder: 'cifar-10-batches-bin',
    classCounts: [10],
    files: {
      train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
      test: ['test_batch.bin'],
    },
  },
  cifar100: {
    title: 'CIFAR-100',
    folder: 'cifar-100-binary',
    classCounts: [20, 100],
    files: { train: ['train.bin'], test: ['test.bin'] },
  },
};

/**
 * Reads one split of CIFAR-10 or CIFAR-100 from `source`: a folder holding the `.bin` files
 * (directly or in `cifar-10-batches-bin/` / `cifar-100-binary/`), or the official archive
 * (`.tar.gz`, detected by its bytes). Returns 3x32x32 RGB images in file order
 * (train batches 1 to 5 in turn).
 */
export async function readCifar(source: string, options: CifarOptions): Promise<ImageSet> {
  const layout = layouts[options.variant];
  if (layout === undefined) {
    throw new UsageError(
      `cifar: unknown variant '${String(options.variant)}' (expected cifar10 or cifar100)`,
    );
  }
  const labelByte = chooseLabelByte(options);
  const names = layout.files[options.split];
  const files = await readSourceFiles(source, layout, names);
  return decodeRecords(files, layout, labelByte);
}

/** Index of the label byte to return: 0 (CIFAR-10, CIFAR-100 coarse) or 1 (CIFAR-100 fine). */
function chooseLabelByte(options: CifarOptions): number {
  const labels = options.labels ?? 'coarse';
  if (labels !== 'coarse' && labels !== 'fine') {
    throw new UsageError(`cifar: unknown labels '${String(labels)}' (expected coarse or fine)`);
  }
  if (labels === 'fine' && options.variant !== 'cifar100') {
    throw new UsageError(`cifar: labels 'fine' exist only in cifar100 (got ${options.variant})`);
  }
  return labels === 'fine' ? 1 : 0;
}

/** The named batch files from a folder or an archive, in the order of `names`. */
async function readSourceFiles(
  source: string,
  layout: CifarLayout,
  names: readonly string[],
): Promise<CifarFile[]> {
  const info = await stat(source).catch((error: unknown) => {
    throw new NotFoundError(`cifar: source ${source} ${readFailure(error)}`, { cause: error });
  });
  if (info.isDirectory()) return readFolder(source, layout, names);
  if (info.size === 0) {
    throw new FormatError(`cifar: ${source} is empty (expected a folder, a .tar.gz or a .tar)`);
  }
  const found = await readArchive(source, names);
  const missing = names.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new NotFoundError(
      `cifar: ${source} has no ${missing.join(', ')} ` +
        `(expected the ${layout.title} binary version, with ${layout.folder}/)`,
    );
  }
  return names.map((name) => found.get(name) as CifarFile);
}

/** Reads the batch files from `dir` or its `layout.folder` subfolder. */
async function readFolder(
  dir: string,
  layout: CifarLayout,
  names: readonly string[],
): Promise<CifarFile[]> {
  const candidates = [dir, join(dir, layout.folder)];
  const folder = candidates.find((c) => names.some((name) => existsSync(join(c, name))));
  if (folder === undefined) {
    throw new NotFoundError(
      `cifar: no ${layout.title} ${names.join(', ')} in ${candidates.join(' or ')}`,
    );
  }
  const missing = names.filter((name) => !existsSync(join(folder, name)));
  if (missing.length > 0) {
    throw new NotFoundError(`cifar: ${folder} is missing ${missing.join(', ')}`);
  }
  return Promise.all(names.map((name) => readBatchFile(join(folder, name))));
}

async function readBatchFile(path: string): Promise<CifarFile> {
  try {
    return { name: path, bytes: await readFile(path) };
  } catch (error) {
    throw new NotFoundError(`cifar: ${path} ${readFailure(error)}`, { cause: error });
  }
}

/**
 * Streams the tar (gzip or not) at `path` and keeps, by base name, the first regular-file
 * entry of each of `names`; every other entry is skipped without being held in memory.
 */
async function readArchive(
  path: string,
  names: readonly string[],
): Promise<Map<string, CifarFile>> {
  const extract = tarExtract();
  const feeding = feed(path, await startsWithGzipMagic(path), extract);
  const found = new Map<string, CifarFile>();
  try {
    for await (const entry of extract) {
      const name = posix.basename(entry.header.name);
      if (!isWanted(entry.header, name, names) || found.has(name)) {
        entry.resume();
        continue;
      }
      found.set(name, {
        name: `${path}:${entry.header.name}`,
        bytes: await readEntry(entry, path),
      });
    }
  } catch (error) {
    throw archiveError(path, error);
  }
  const failure = await feeding;
  if (failure !== undefined) throw archiveError(path, failure);
  return found;
}

/**
 * Pipes the file at `path` (through gunzip if `gzip`) into `sink`. Resolves to the error
 * that stopped it, or undefined, so that a failure is never an unhandled rejection.
 */
function feed(path: string, gzip: boolean, sink: NodeJS.WritableStream): Promise<unknown> {
  const input = createReadStream(path);
  const done = gzip ? pipeline(input, createGunzip(), sink) : pipeline(input, sink);
  return done.then(
    () => undefined,
    (error: unknown) => error ?? new Error('stream failed'),
  );
}

function isWanted(header: Header, name: string, names: readonly string[]): boolean {
  const regular = header.type === 'file' || header.type === 'contiguous-file';
  return regular && names.includes(name);
}

/** Collects one archive entry into a buffer of the size its header declares. */
async function readEntry(entry: TarEntry, archive: string): Promise<Uint8Array> {
  const size = entry.header.size ?? 0;
  if (size > maxEntryBytes) {
    throw new FormatError(
      `cifar: ${archive}:${entry.header.name} declares ${fmt(size)} bytes ` +
        `(expected at most ${fmt(maxEntryBytes)})`,
    );
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for await (const chunk of entry) {
    // tar-stream yields Buffers, but its typings leave chunks untyped.
    if (!(chunk instanceof Uint8Array)) throw new TypeError('tar entry chunk is not bytes');
    if (offset + chunk.length > size) {
      throw new FormatError(
        `cifar: ${archive}:${entry.header.name} has more data than its header declares ` +
          `(expected ${fmt(size)} bytes)`,
      );
    }
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new NotFoundError(`cifar: ${path} ${readFailure(error)}`, { cause: error });
  });
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Our own errors pass through; stream and decoder errors become a FormatError on `path`. */
function archiveError(path: string, error: unknown): Error {
  if (error instanceof FormatError || error instanceof NotFoundError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new FormatError(`cifar: ${path} is not a readable .tar.gz or .tar archive (${reason})`);
}

/** Checks every file's records and copies them into one ImageSet. */
function decodeRecords(files: CifarFile[], layout: CifarLayout, labelByte: number): ImageSet {
  const recordBytes = layout.classCounts.length + pixelBytes;
  const count = files.reduce((sum, file) => sum + countRecords(file, recordBytes), 0);
  const images = new Uint8Array(count * pixelBytes);
  const labels = new Int32Array(count);
  let next = 0;
  for (const file of files) {
    next = copyRecords(file, layout, labelByte, { images, labels, next });
  }
  return { images, labels, count, channels, height: side, width: side };
}

/** Number of whole records in `file`; a partial last record or an empty file is an error. */
function countRecords(file: CifarFile, recordBytes: number): number {
  const { length } = file.bytes;
  if (length === 0) {
    throw new FormatError(
      `cifar: ${file.name} is empty (expected ${fmt(recordBytes)}-byte records)`,
    );
  }
  const whole = Math.floor(length / recordBytes);
  const rest = length - whole * recordBytes;
  if (rest !== 0) {
    throw new FormatError(
      `cifar: ${file.name} record ${fmt(whole + 1)} is truncated ` +
        `(expected ${fmt(recordBytes)} bytes, got ${fmt(rest)})`,
    );
  }
  return whole;
}

/** Copies the records of `file` into `out` from image `out.next` on; returns the next index. */
function copyRecords(
  file: CifarFile,
  layout: CifarLayout,
  labelByte: number,
  out: { images: Uint8Array; labels: Int32Array; next: number },
): number {
  const labelBytes = layout.classCounts.length;
  const recordBytes = labelBytes + pixelBytes;
  let index = out.next;
  for (let offset = 0; offset < file.bytes.length; offset += recordBytes) {
    checkLabels(file, offset, layout);
    out.labels[index] = file.bytes[offset + labelByte] ?? 0;
    out.images.set(
      file.bytes.subarray(offset + labelBytes, offset + recordBytes),
      index * pixelBytes,
    );
    index += 1;
  }
  return index;
}

function checkLabels(file: CifarFile, offset: number, layout: CifarLayout): void {
  layout.classCounts.forEach((classes, i) => {
    const label = file.bytes[offset + i] ?? 0;
    if (label < classes) return;
    const kind =
      layout.classCounts.length === 1 ? 'label' : i === 0 ? 'coarse label' : 'fine label';
    const record = offset / (layout.classCounts.length + pixelBytes) + 1;
    throw new FormatError(
      `cifar: ${file.name} record ${fmt(record)} has ${kind} ${label} (expected 0..${classes - 1})`,
    );
  });
}
