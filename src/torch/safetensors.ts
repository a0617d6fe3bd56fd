/**
 * Reading and writing state dicts in the safetensors format: an 8-byte little-endian header
 * length, a JSON header (name -> dtype, shape, byte offsets; `__metadata__`: string map) and
 * the raw little-endian tensor bytes. Files written here load in Python's safetensors.
 */
import { readFile, writeFile } from 'node:fs/promises';

import { FormatError, NotFoundError } from '../errors.js';
import type { DType, TensorData } from './native.js';
import { tensor } from './ops.js';
import type { Tensor } from './tensor.js';

const dtypeCodes: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
};

const fromCode: Record<string, { make: (b: Uint8Array) => TensorData; bytes: number }> = {
  F32: { make: (b) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), bytes: 4 },
  F64: { make: (b) => new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8), bytes: 8 },
  I64: { make: (b) => new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8), bytes: 8 },
  I32: { make: (b) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4), bytes: 4 },
  U8: { make: (b) => new Uint8Array(b), bytes: 1 },
};

/** Largest tensor accepted when reading (2^36 elements, the engine's own limit). */
const maxElements = 2 ** 36;

/** Largest header accepted when reading (100 MB), as the format's reference reader does. */
const maxHeaderBytes = 100_000_000;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Serialises tensors and string metadata into safetensors bytes. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, Entry | Record<string, string>> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of [...tensors].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const code = dtypeCodes[t.dtype];
    const data = code ? t.data() : t.toFloat32();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = {
      dtype: code ?? 'F32',
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Parsed safetensors contents: tensors by name, and the metadata string map. */
export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function parseHeader(
  bytes: Uint8Array,
  where: string,
): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8)
    throw new FormatError(`safetensors: ${where} is too short (${bytes.length} bytes)`);
  const size = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (size > BigInt(Math.min(maxHeaderBytes, bytes.length - 8))) {
    throw new FormatError(
      `safetensors: ${where} declares a ${size}-byte header but the file has ${bytes.length} bytes`,
    );
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 8, Number(size)).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw new FormatError(`safetensors: ${where} has a header that is not valid JSON`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new FormatError(`safetensors: ${where} has a header that is not a JSON object`);
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + Number(size) };
}

function checkEntry(name: string, value: unknown, dataLength: number, where: string): Entry {
  const e = value as Partial<Entry> | null;
  const bad = (why: string): never => {
    throw new FormatError(`safetensors: ${where}: tensor '${name}' ${why}`);
  };
  if (e === null || typeof e !== 'object') return bad('has no description');
  if (typeof e.dtype !== 'string' || !Object.hasOwn(fromCode, e.dtype))
    return bad(`has unsupported dtype ${String(e.dtype)}`);
  const shape = e.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    shape.length > 8
  ) {
    return bad('has an invalid shape');
  }
  if (shape.reduce((a: number, b: number) => a * Math.max(b, 1), 1) > maxElements) {
    return bad(`has an absurd shape [${shape.join(', ')}]`);
  }
  const [begin, end] = Array.isArray(e.data_offsets) ? e.data_offsets : [NaN, NaN];
  if (
    !Number.isSafeInteger(begin) ||
    !Number.isSafeInteger(end) ||
    begin < 0 ||
    end < begin ||
    end > dataLength
  ) {
    return bad(`has data offsets outside the file's ${dataLength} data bytes`);
  }
  const elements = shape.reduce((a: number, b: number) => a * b, 1);
  const expected = elements * (fromCode[e.dtype]?.bytes ?? 1);
  if (end - begin !== expected)
    return bad(`holds ${end - begin} bytes, expected ${expected} for its shape`);
  return e as Entry;
}

/** Parses safetensors bytes; `where` names the source in error messages. */
export function decodeSafetensors(bytes: Uint8Array, where = 'input'): SafetensorsContents {
  const { header, dataStart } = parseHeader(bytes, where);
  const { __metadata__: rawMetadata, ...entries } = header;
  const metadata = checkMetadata(rawMetadata, where);
  // Check every entry before allocating any tensor, so a bad file leaks nothing.
  const checked = Object.entries(entries).map(
    ([name, value]) => [name, checkEntry(name, value, bytes.length - dataStart, where)] as const,
  );
  checkCoverage(
    checked.map(([, e]) => e.data_offsets),
    bytes.length - dataStart,
    where,
  );
  const tensors = new Map<string, Tensor>();
  for (const [name, e] of checked) {
    // Copy so the typed array is aligned for its element size.
    const raw = Uint8Array.prototype.slice.call(
      bytes,
      dataStart + e.data_offsets[0],
      dataStart + e.data_offsets[1],
    );
    tensors.set(name, tensor((fromCode[e.dtype] as (typeof fromCode)[string]).make(raw), e.shape));
  }
  return { tensors, metadata };
}

/** The tensors' byte ranges must tile the data area exactly: no gaps, overlaps or trailing bytes. */
function checkCoverage(ranges: [number, number][], dataLength: number, where: string): void {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end] of sorted) {
    if (begin !== at) {
      throw new FormatError(
        `safetensors: ${where}: tensor data overlaps or leaves a gap at byte ${at}`,
      );
    }
    at = end;
  }
  if (at !== dataLength) {
    throw new FormatError(`safetensors: ${where}: ${dataLength - at} bytes after the last tensor`);
  }
}

function checkMetadata(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError(`safetensors: ${where}: __metadata__ is not a JSON object`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new FormatError(`safetensors: ${where}: metadata '${k}' is not a string`);
    }
  }
  return value as Record<string, string>;
}

/** Writes tensors and metadata to `path`. */
export async function saveSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFile(path, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file; NotFoundError if missing, FormatError if corrupt. */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new NotFoundError(
      `safetensors: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        cause: error,
      },
    );
  }
  return decodeSafetensors(bytes, path);
}
