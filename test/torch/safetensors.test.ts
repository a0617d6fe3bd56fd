/**
 * safetensors: round trips, byte layouts built by hand from the format's definition (an
 * 8-byte little-endian header length, a JSON header, then the raw little-endian data), and
 * corrupt inputs, which must raise FormatError (E_FORMAT) naming the problem.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { FormatError, ModelError, NotFoundError } from '../../src/errors.js';
import {
  BatchNorm2d,
  Conv2d,
  Generator,
  Linear,
  Module,
  type Tensor,
  decodeSafetensors,
  dispose,
  encodeSafetensors,
  liveTensors,
  loadSafetensors,
  randn,
  saveSafetensors,
  tensor,
  tidy,
} from '../../src/torch/index.js';
import { tempDir } from '../helpers/data.js';
import { f32, f64, i64, values } from '../helpers/tensors.js';

/** A safetensors file: `header` (JSON-encoded unless a string), then `data`. */
function fileBytes(header: unknown, data: number[] = [], declaredLength?: number): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Asserts that decoding `bytes` throws a FormatError whose message matches `pattern`. */
function rejects(bytes: Uint8Array, pattern: RegExp, where = 'input'): void {
  assert.throws(
    () => decodeSafetensors(bytes, where),
    (error: unknown) => {
      assert.ok(error instanceof FormatError, `expected FormatError, got ${String(error)}`);
      assert.equal(error.code, 'E_FORMAT');
      assert.match(error.message, pattern);
      assert.ok(error.message.startsWith(`safetensors: ${where}`), error.message);
      return true;
    },
  );
}

test('encode/decode round trip: float32, float64, int64, uint8 and metadata', () => {
  tidy(() => {
    const tensors = new Map<string, Tensor>([
      ['w', f32([1.5, -2, 3.25, 1e-7], [2, 2])],
      ['index', i64([0, -5, 2 ** 40], [3])],
      ['mask', tensor(Uint8Array.from([0, 1, 255, 7]), [2, 2, 1])],
      ['d', f64([Math.PI], [1])],
      ['scalar', f32([42], [])],
      ['empty', f32([], [0, 3])],
    ]);
    const metadata = { note: 'hé, "quoted"', n: '12' };
    const bytes = encodeSafetensors(tensors, metadata);
    const back = decodeSafetensors(bytes);
    assert.deepEqual(back.metadata, metadata);
    assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const u = back.tensors.get(name) as Tensor;
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual([...u.shape], [...t.shape], name);
      assert.deepEqual(values(u), values(t), name);
    }
    // Layout: the length prefix matches, and data starts 8-byte aligned.
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + length) % 8, 0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString()) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    // 4·4 + 8·3 + 1·4 + 8 + 4 + 0 bytes of data, packed back to back.
    assert.equal(bytes.length - 8 - length, 16 + 24 + 4 + 8 + 4);
    // Sorted by name: d 0..8, empty 8..8, index 8..32, mask 32..36, scalar 36..40, w 40..56.
    assert.deepEqual(header['d']?.data_offsets, [0, 8]);
    assert.deepEqual(header['index']?.data_offsets, [8, 32]);
    assert.deepEqual(header['w']?.data_offsets, [40, 56]);
  });
});

test('decode: hand-built files with every dtype and unaligned offsets', () => {
  tidy(() => {
    // U8 [1, 2, 3] at bytes 0..3, then F32 [1.5, −2] at 3..11 (not 4-byte aligned):
    // 1.5 = 0x3FC00000 → LE 00 00 C0 3F; −2 = 0xC0000000 → LE 00 00 00 C0.
    // I32 [7, −1] at 11..19; I64 [2^40 + 1] at 19..27: LE 01 00 00 00 00 01 00 00;
    // F64 [0.5] = 0x3FE0000000000000 at 27..35; an empty F32 [0, 2] at 35..35.
    const header = {
      __metadata__: { format: 'pt' },
      u: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
      f: { dtype: 'F32', shape: [2, 1], data_offsets: [3, 11] },
      i: { dtype: 'I32', shape: [2], data_offsets: [11, 19] },
      l: { dtype: 'I64', shape: [], data_offsets: [19, 27] },
      d: { dtype: 'F64', shape: [1], data_offsets: [27, 35] },
      e: { dtype: 'F32', shape: [0, 2], data_offsets: [35, 35] },
    };
    const data = [
      ...[1, 2, 3],
      ...[0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0],
      ...[0x07, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
      ...[0x01, 0, 0, 0, 0, 0x01, 0, 0],
      ...[0, 0, 0, 0, 0, 0, 0xe0, 0x3f],
    ];
    const { tensors, metadata } = decodeSafetensors(fileBytes(header, data));
    assert.deepEqual(metadata, { format: 'pt' });
    const get = (name: string) => tensors.get(name) as Tensor;
    assert.deepEqual([get('u').dtype, ...values(get('u'))], ['uint8', 1, 2, 3]);
    assert.deepEqual([get('f').dtype, ...get('f').shape], ['float32', 2, 1]);
    assert.deepEqual(values(get('f')), [1.5, -2]);
    assert.deepEqual([get('i').dtype, ...values(get('i'))], ['int32', 7, -1]);
    assert.equal(get('l').dtype, 'int64');
    assert.deepEqual([...get('l').shape], []);
    assert.deepEqual(Array.from(get('l').data() as BigInt64Array), [2n ** 40n + 1n]);
    assert.deepEqual([get('d').dtype, ...values(get('d'))], ['float64', 0.5]);
    assert.deepEqual([...get('e').shape], [0, 2]);
    // A header padded with trailing spaces, and no metadata at all, are both valid.
    const padded = decodeSafetensors(
      fileBytes(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}    `, [9]),
    );
    assert.deepEqual(values(padded.tensors.get('x') as Tensor), [9]);
    assert.deepEqual(padded.metadata, {});
  });
});

const oneF32 = (extra: Record<string, unknown> = {}) => ({
  x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...extra },
});
const eightBytes = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]; // float32 [1, 2]

test('decode: corrupt files raise FormatError naming the problem', () => {
  tidy(() => {
    // Sanity: the base case decodes.
    assert.deepEqual(
      values(decodeSafetensors(fileBytes(oneF32(), eightBytes)).tensors.get('x') as Tensor),
      [1, 2],
    );
    rejects(new Uint8Array(0), /too short \(0 bytes\)/);
    rejects(new Uint8Array(5), /too short \(5 bytes\)/);
    rejects(
      fileBytes(oneF32(), eightBytes, 1000),
      /declares a 1000-byte header but the file has \d+ bytes/,
    );
    rejects(fileBytes(oneF32(), eightBytes, 2 ** 40), /declares a 1099511627776-byte header/);
    rejects(fileBytes('{"x": [1, 2', eightBytes), /not valid JSON/);
    rejects(fileBytes('', []), /not valid JSON/);
    rejects(fileBytes('[1, 2]', []), /not a JSON object/);
    rejects(fileBytes('null', []), /not a JSON object/);
    // Data offsets beyond the data, reversed, or negative.
    rejects(
      fileBytes(oneF32({ data_offsets: [0, 16] }), eightBytes),
      /'x' has data offsets outside the file's 8 data bytes/,
    );
    rejects(
      fileBytes(oneF32(), eightBytes.slice(0, 4)),
      /'x' has data offsets outside the file's 4 data bytes/,
    );
    rejects(
      fileBytes(oneF32({ data_offsets: [8, 0] }), eightBytes),
      /'x' has data offsets outside/,
    );
    rejects(
      fileBytes(oneF32({ data_offsets: [-4, 4] }), eightBytes),
      /'x' has data offsets outside/,
    );
    rejects(fileBytes(oneF32({ data_offsets: [0] }), eightBytes), /'x' has data offsets outside/);
    // Offsets that do not fit the shape: [3] float32 needs 12 bytes, the entry spans 8.
    rejects(
      fileBytes(oneF32({ shape: [3] }), eightBytes),
      /'x' holds 8 bytes, expected 12 for its shape/,
    );
    rejects(fileBytes(oneF32({ dtype: 'BF16' }), eightBytes), /'x' has unsupported dtype BF16/);
    rejects(fileBytes(oneF32({ dtype: 7 }), eightBytes), /'x' has unsupported dtype 7/);
    rejects(fileBytes(oneF32({ shape: [-2] }), eightBytes), /'x' has an invalid shape/);
    rejects(fileBytes(oneF32({ shape: [2.5] }), eightBytes), /'x' has an invalid shape/);
    rejects(fileBytes(oneF32({ shape: '2' }), eightBytes), /'x' has an invalid shape/);
    rejects(fileBytes({ x: null }, eightBytes), /'x' has no description/);
    rejects(fileBytes({ __metadata__: { k: 1 } }, []), /metadata 'k' is not a string/);
  });
});

test('decode: messages name the source', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'broken.safetensors');
  await writeFile(path, fileBytes(oneF32({ shape: [3] }), eightBytes));
  await assert.rejects(loadSafetensors(path), (error: unknown) => {
    assert.ok(error instanceof FormatError);
    assert.ok(error.message.includes(path), error.message);
    return true;
  });
});

test('decode: a dtype named like an Object.prototype member is unsupported, not a TypeError', () => {
  // With 1 byte per element assumed, shape [2] over 2 bytes passes every other check.
  const entry = { shape: [2], data_offsets: [0, 2] };
  rejects(fileBytes(oneF32({ dtype: 'toString', ...entry }), [1, 2]), /unsupported dtype/);
  rejects(fileBytes(oneF32({ dtype: 'constructor', ...entry }), [1, 2]), /unsupported dtype/);
});

test('decode: __metadata__ that is not an object is rejected', () => {
  rejects(fileBytes({ __metadata__: 'abc' }, []), /metadata/);
});

test('decode: a shape too large for the engine is a FormatError', () => {
  const header = { x: { dtype: 'F32', shape: [2 ** 40, 0], data_offsets: [0, 0] } };
  rejects(fileBytes(header, []), /'x'/);
});

test('decode: a file rejected halfway leaves no live tensors', () => {
  const header = { ...oneF32(), y: { dtype: 'F32', shape: [5], data_offsets: [0, 8] } };
  const before = liveTensors();
  rejects(fileBytes(header, eightBytes), /'y' holds 8 bytes, expected 20/);
  assert.equal(liveTensors(), before);
});

test('loadSafetensors: a missing file is NotFoundError; save/load round trip', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'nope.safetensors');
  await assert.rejects(loadSafetensors(missing), (error: unknown) => {
    assert.ok(error instanceof NotFoundError, String(error));
    assert.equal(error.code, 'E_NOT_FOUND');
    assert.ok(error.message.includes(missing), error.message);
    assert.match(error.message, /ENOENT/);
    return true;
  });
  await assert.rejects(loadSafetensors(dir), NotFoundError, 'a folder is not a file');

  const path = join(dir, 'ok.safetensors');
  const t1 = f32([1, 2, 3], [3]);
  await saveSafetensors(path, new Map([['a', t1]]), { k: 'v' });
  const back = await loadSafetensors(path);
  assert.deepEqual(values(back.tensors.get('a') as Tensor), [1, 2, 3]);
  assert.deepEqual(back.metadata, { k: 'v' });
  dispose([t1, [...back.tensors.values()]]);
});

/** Conv2d + BatchNorm2d + Linear, named like a PyTorch module. */
class Net extends Module {
  readonly conv: Conv2d;
  readonly norm: BatchNorm2d;
  readonly head: Linear;

  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.conv = this.child('conv', new Conv2d(1, 2, 3, { bias: true, generator }));
    this.norm = this.child('norm', new BatchNorm2d(2));
    this.head = this.child('head', new Linear(8, 3, { generator }));
  }

  forward(input: Tensor): Tensor {
    return tidy(() => this.head.forward(this.norm.forward(this.conv.forward(input)).flatten(1)));
  }
}

test('Module state dicts round-trip through safetensors bytes', () => {
  const before = liveTensors();
  const a = new Net(1);
  const b = new Net(2);
  // One training forward moves a's running statistics away from 0 and 1.
  tidy(() => {
    a.forward(randn([4, 1, 4, 4], new Generator(3)));
  });
  const names = [...a.stateDict().keys()].sort();
  assert.deepEqual(names, [
    'conv.bias',
    'conv.weight',
    'head.bias',
    'head.weight',
    'norm.bias',
    'norm.running_mean',
    'norm.running_var',
    'norm.weight',
  ]);
  assert.notDeepEqual(values(a.conv.weight), values(b.conv.weight));

  const decoded = decodeSafetensors(encodeSafetensors(a.stateDict()));
  b.loadStateDict(decoded.tensors);
  for (const [name, t] of a.stateDict()) {
    assert.deepEqual(values(b.stateDict().get(name) as Tensor), values(t), name);
  }
  // The loaded values are copies: changing the decoded tensors later changes nothing.
  dispose([...decoded.tensors.values()]);
  assert.deepEqual(values(b.head.bias as Tensor), values(a.head.bias as Tensor));
  a.dispose();
  b.dispose();
  assert.equal(liveTensors(), before);
});

test('loadStateDict: a missing, extra or misshapen tensor is a ModelError', () => {
  const net = new Net(4);
  const state = new Map(net.stateDict());
  const expectModelError = (s: ReadonlyMap<string, Tensor>, pattern: RegExp) =>
    assert.throws(
      () => net.loadStateDict(s),
      (error: unknown) => {
        assert.ok(error instanceof ModelError, String(error));
        assert.equal(error.code, 'E_MODEL');
        assert.match(error.message, pattern);
        return true;
      },
    );
  tidy(() => {
    const missing = new Map(state);
    missing.delete('norm.running_var');
    expectModelError(missing, /missing: norm\.running_var; unexpected: none/);
    const extra = new Map(state).set('head.extra', f32([1], [1]));
    expectModelError(extra, /missing: none; unexpected: head\.extra/);
    const misshapen = new Map(state).set('head.weight', f32(new Array<number>(24).fill(0), [8, 3]));
    expectModelError(misshapen, /'head\.weight' has shape \[8, 3\], expected \[3, 8\]/);
  });
  net.dispose();
});
