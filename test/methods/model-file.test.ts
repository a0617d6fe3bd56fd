/**
 * Doctored model files and bad inputs found by trying to break duiad: each must be refused
 * with a typed error that names the file, never scored into a plausible wrong number.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import type { CliIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import type { ImageSet } from '../../src/data/types.js';
import { FormatError, ModelError, ShapeError } from '../../src/errors.js';
import { loadDuiadModel } from '../../src/methods/duiad/model.js';
import { fitDuiad } from '../../src/methods/duiad/train.js';
import {
  type Tensor,
  decodeSafetensors,
  dispose,
  encodeSafetensors,
  liveTensors,
  tidy,
  zeros,
} from '../../src/torch/index.js';
import { tempDir } from '../helpers/data.js';

function images(count: number): ImageSet {
  const pixels = Uint8Array.from({ length: count * 64 }, (_, i) => (i * 37) % 251);
  return { images: pixels, labels: new Int32Array(count), count, channels: 1, height: 8, width: 8 };
}

/** Bytes of a real model file, fitted once on generated images. */
let modelBytes: Uint8Array | undefined;
async function realModel(dir: string): Promise<Uint8Array> {
  if (!modelBytes) {
    const model = await fitDuiad(images(16), { epochs: 1, batchSize: 8, seed: 1 });
    const path = join(dir, 'real.safetensors');
    await model.save(path, { dataset: 'mnist', dataPath: '/nowhere', normalClass: 0 });
    model.dispose();
    modelBytes = await readFile(path);
  }
  return modelBytes;
}

/** Loading `path` fails with a ModelError that matches `message` and names the file. */
async function assertRefused(path: string, name: string, message: RegExp): Promise<void> {
  await assert.rejects(loadDuiadModel(path), (e: unknown) => {
    assert.ok(e instanceof ModelError, `${name}: ${String(e)}`);
    assert.match(e.message, message, name);
    assert.ok(e.message.includes(path), `${name}: ${e.message}`);
    return true;
  });
}

/**
 * Rewrites a model file with its metadata or tensors changed by `edit`; the checksum is kept
 * as it was (now wrong) unless `checksum` is false, as in files older than format 3.
 */
async function doctored(
  dir: string,
  name: string,
  edit: (meta: Record<string, unknown>, tensors: Map<string, Tensor>) => void,
  { checksum = true } = {},
): Promise<string> {
  const { tensors, metadata } = decodeSafetensors(await realModel(dir));
  const meta = JSON.parse(metadata['duiad'] ?? '{}') as Record<string, unknown>;
  const originals = [...tensors.values()];
  // Tensors the edit makes are freed by tidy; the decoded ones are freed below.
  const bytes = tidy(() => {
    edit(meta, tensors);
    const kept: Record<string, string> = { ...metadata, duiad: JSON.stringify(meta) };
    if (!checksum) delete kept['sha256'];
    return encodeSafetensors(tensors, kept);
  });
  dispose(originals);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

test('doctored model files are refused with a ModelError naming the file', async (t) => {
  const dir = await tempDir(t);
  const before = liveTensors();
  const prep = (m: Record<string, unknown>) => m['preprocessing'] as Record<string, unknown>;
  const config = (m: Record<string, unknown>) => m['config'] as Record<string, unknown>;
  const cases: [string, (m: Record<string, unknown>, ts: Map<string, Tensor>) => void, RegExp][] = [
    ['std-string', (m) => (prep(m)['std'] = ['1']), /std is not one positive number/],
    ['mean-null', (m) => (prep(m)['mean'] = [null]), /mean is not one finite number/],
    ['channels-0', (m) => (prep(m)['channels'] = 0), /channels 0/],
    ['no-extra', (m) => delete m['extra'], /no 'extra'/],
    ['no-config', (m) => delete m['config'], /no configuration/],
    ['augment-null', (m) => (config(m)['augment'] = null), /augment must be an object/],
    ['encoder-toString', (m) => (config(m)['encoder'] = 'toString'), /unknown encoder 'toString'/],
    ['k-string', (m) => (config(m)['k'] = '5'), /k must be a number \(got "5"\)/],
    [
      'bias-int',
      (_, ts) =>
        ts.set('net.encoder.bn1.bias', (ts.get('net.encoder.bn1.bias') as Tensor).to('int32')),
      /is int32, expected float32/,
    ],
    [
      'bank-f64',
      (_, ts) => ts.set('score.bank', (ts.get('score.bank') as Tensor).to('float64')),
      /'score.bank' is float64/,
    ],
    [
      'bank-nan',
      (_, ts) => ts.set('score.bank', (ts.get('score.bank') as Tensor).mul(0).div(0)),
      /NaN or infinite/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    await assertRefused(await doctored(dir, `${name}.safetensors`, edit), name, message);
  }
  assert.equal(liveTensors(), before);
});

test('safetensors: any header padding loads; trailing bytes and gaps do not', async (t) => {
  const dir = await tempDir(t);
  const bytes = await realModel(dir);
  // Re-pad the header to a length that is not a multiple of 8, as other writers may.
  const size = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header =
    Buffer.from(bytes.subarray(8, 8 + size))
      .toString('utf8')
      .trimEnd() + ' ';
  const head = Buffer.from(header);
  const odd = Buffer.concat([Buffer.alloc(8), head, bytes.subarray(8 + size)]);
  odd.writeBigUInt64LE(BigInt(head.length), 0);
  assert.notEqual(head.length % 8, 0);
  const decoded = decodeSafetensors(odd, 'odd');
  dispose([...decoded.tensors.values()]);

  const trailing = Buffer.concat([bytes, Buffer.from([1, 2, 3])]);
  assert.throws(
    () => decodeSafetensors(trailing, 'trailing'),
    (e: unknown) => e instanceof FormatError && /3 bytes after the last tensor/.test(e.message),
  );
});

test('fit checks the image set before any work', async () => {
  const bad: [Partial<ImageSet>, RegExp][] = [
    [
      { images: new Uint8Array(128), count: 2, height: 100_000, width: 100_000 },
      /images has 128 bytes/,
    ],
    [{ count: -1 }, /count must be a non-negative integer/],
    [{ height: 0 }, /height must be a positive integer/],
    [{ labels: new Int32Array(3) }, /labels has 3 entries/],
  ];
  for (const [change, message] of bad) {
    await assert.rejects(
      fitDuiad({ ...images(16), ...change }, { epochs: 1 }),
      (e: unknown) => e instanceof ShapeError && message.test(e.message),
    );
  }
});

test('CLI: a bad --out fails before training; hex integers and FIFOs are refused', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  const err: string[] = [];
  const io: CliIO = { stdout: () => {}, stderr: (s) => err.push(s), interactive: false };
  const started = performance.now();
  const args = ['train', '--dataset', 'mnist', '--data', dir, '--normal-class', '0'];
  assert.equal(await run([...args, '--out', join(file, 'sub')], io), 3);
  assert.match(err.join(''), /cannot create output folder/);
  assert.ok(performance.now() - started < 5000);
  assert.equal(await run([...args, '--epochs', '0x10'], io), 2);
  assert.match(err.join(''), /--epochs must be an integer .* \(got '0x10'\)/);

  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.equal(await run(['eval', '--model', fifo], io), 3);
  assert.match(err.join(''), /is not a model file/);
});

test('format version 1 files load without calibration; version 2 sections are checked', async (t) => {
  const dir = await tempDir(t);
  const v1 = await doctored(
    dir,
    'v1.safetensors',
    (m) => {
      m['formatVersion'] = 1;
      delete m['input'];
      delete m['calibration'];
      delete m['anomalyMaps'];
    },
    { checksum: false },
  );
  const old = await loadDuiadModel(v1);
  assert.equal(old.metadata.formatVersion, 1);
  assert.equal(old.metadata.calibration, null);
  assert.equal(old.metadata.anomalyMaps, null);
  assert.deepEqual(old.metadata.input, { channels: 1, height: 8, width: 8, resize: 'fill' });
  old.model.dispose();

  const input = (m: Record<string, unknown>) => m['input'] as Record<string, unknown>;
  const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['input-3', (m) => (input(m)['channels'] = 3), /input spec 3×8×8 does not match .* 1×8×8/],
    ['input-resize', (m) => (input(m)['resize'] = 'warp'), /resize must be one of fill/],
    ['no-input', (m) => delete m['input'], /no input spec/],
    ['no-calibration', (m) => delete m['calibration'], /calibration is not an object/],
    ['maps-bad', (m) => (m['anomalyMaps'] = { patch: 0 }), /anomalyMaps patch/],
  ];
  for (const [name, edit, message] of cases) {
    await assertRefused(await doctored(dir, `${name}.safetensors`, edit), name, message);
  }
});

test('a file edited or damaged after saving fails its checksum; version 2 files need none', async (t) => {
  const dir = await tempDir(t);
  const config = (m: Record<string, unknown>) => m['config'] as Record<string, unknown>;
  const scale = (name: string) => (_: unknown, ts: Map<string, Tensor>) =>
    ts.set(name, (ts.get(name) as Tensor).mul(1.0001));
  const cases: [string, (m: Record<string, unknown>, ts: Map<string, Tensor>) => void][] = [
    ['weight-scaled', scale('net.encoder.conv1.weight')],
    ['bank-scaled', scale('score.bank')],
    ['k-changed', (m) => (config(m)['k'] = 1)],
    ['seconds-changed', (m) => (m['trainingSeconds'] = 1)],
  ];
  for (const [name, edit] of cases) {
    await assertRefused(
      await doctored(dir, `${name}.safetensors`, edit),
      name,
      /fails its checksum/,
    );
  }

  // One flipped byte in the middle of the tensor data, the header untouched.
  const bytes = Buffer.from(await realModel(dir));
  const size = Number(bytes.readBigUInt64LE(0));
  const flipped = Buffer.from(bytes);
  const at = 8 + size + Math.floor((bytes.length - 8 - size) / 2);
  flipped[at] = (flipped[at] as number) ^ 0x10;
  const damaged = join(dir, 'damaged.safetensors');
  await writeFile(damaged, flipped);
  await assertRefused(damaged, 'damaged', /fails its checksum|NaN or infinite/);

  const unsummed = join(dir, 'unsummed.safetensors');
  const { tensors, metadata } = decodeSafetensors(bytes);
  await writeFile(unsummed, encodeSafetensors(tensors, { duiad: metadata['duiad'] ?? '' }));
  await assertRefused(unsummed, 'unsummed', /has no checksum/);

  const v2 = await doctored(dir, 'v2.safetensors', (m) => (m['formatVersion'] = 2), {
    checksum: false,
  });
  const old = await loadDuiadModel(v2);
  assert.equal(old.metadata.formatVersion, 2);
  old.model.dispose();
  // Turning a file into version 2 does not skip a checksum it still carries.
  const relabelled = await doctored(dir, 'relabelled.safetensors', (m) => (m['formatVersion'] = 2));
  await assertRefused(relabelled, 'relabelled', /fails its checksum/);

  // What a checksum-free file cannot hide: rows of the feature bank that are not unit
  // length, a centre of the wrong size, tensors the model does not have.
  const v2cases: [string, (m: Record<string, unknown>, ts: Map<string, Tensor>) => void, RegExp][] =
    [
      [
        'bank-doubled',
        (_, ts) => ts.set('score.bank', (ts.get('score.bank') as Tensor).mul(2)),
        /'score.bank' row 0 has length 2, expected 1/,
      ],
      [
        'centre-short',
        (_, ts) => ts.set('score.centre', zeros([3])),
        /'score.centre' has shape \[3\]/,
      ],
      ['extra-tensor', (_, ts) => ts.set('zzz.extra', zeros([2])), /unexpected tensor 'zzz.extra'/],
    ];
  for (const [name, edit, message] of v2cases) {
    const path = await doctored(
      dir,
      `${name}.safetensors`,
      (m, ts) => {
        m['formatVersion'] = 2;
        edit(m, ts);
      },
      { checksum: false },
    );
    await assertRefused(path, name, message);
  }

  const fresh = join(dir, 'fresh.safetensors');
  await writeFile(fresh, bytes);
  const loaded = await loadDuiadModel(fresh);
  assert.equal(loaded.metadata.formatVersion, 3);
  loaded.model.dispose();
  dispose([...tensors.values()]);
});
