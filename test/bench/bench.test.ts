/**
 * The benchmark runner on a generated idx dataset: results per split, resumption, tables.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { markdownTable, summarise, writeReport } from '../../src/bench/report.js';
import {
  type BenchEvent,
  type BenchPlan,
  type SplitResult,
  resultPath,
  runBench,
} from '../../src/bench/run.js';
import { parseClasses } from '../../src/cli/bench.js';
import { UsageError } from '../../src/errors.js';
import { tempDir } from '../helpers/data.js';

/** Writes idx files: class 0 images are dark, class 1 bright, class 2 a vertical bar. */
async function writeIdx(dir: string, prefix: string, labels: number[]): Promise<void> {
  const n = labels.length;
  const images = Buffer.alloc(16 + n * 64);
  images.writeUInt32BE(0x803, 0);
  [n, 8, 8].forEach((d, i) => images.writeUInt32BE(d, 4 + 4 * i));
  labels.forEach((label, i) => {
    for (let p = 0; p < 64; p++) {
      const v =
        label === 0
          ? 20 + ((i * 7 + p) % 13)
          : label === 1
            ? 230 - ((i + p) % 17)
            : p % 8 === 3
              ? 255
              : 0;
      images[16 + i * 64 + p] = v;
    }
  });
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x801, 0);
  header.writeUInt32BE(n, 4);
  await writeFile(join(dir, `${prefix}-images-idx3-ubyte.gz`), gzipSync(images));
  await writeFile(
    join(dir, `${prefix}-labels-idx1-ubyte`),
    Buffer.concat([header, Buffer.from(labels)]),
  );
}

/** A one-seed `cpu` plan over `dataset` at `dataPath`, writing to `out`, with `changes`. */
function planFor(
  dataset: BenchPlan['dataset'],
  dataPath: string,
  out: string,
  changes: Partial<BenchPlan> = {},
): BenchPlan {
  const base = { classes: [0], methods: ['pixel-knn'], seeds: 1, profile: 'cpu' as const };
  return { dataset, dataPath, out, ...base, ...changes };
}

const fake = (k: number, seed: number, auroc: number): SplitResult =>
  ({ normalClass: k, seed, auroc, trainingSeconds: 10 }) as SplitResult;

test('summarise: mean over classes per seed, then mean ± std over seeds (hand-worked)', () => {
  // Seed 0: classes 0.8 and 0.6 -> 70; seed 1: 0.9 and 0.7 -> 80. Mean 75, sample std 7.07.
  const s = summarise([fake(0, 0, 0.8), fake(1, 0, 0.6), fake(0, 1, 0.9), fake(1, 1, 0.7)]);
  assert.ok(Math.abs(s.meanAuroc - 75) < 1e-9);
  assert.ok(Math.abs(s.std - Math.SQRT2 * 5) < 1e-9);
  assert.equal(s.seeds, 2);
  assert.ok(Math.abs((s.classes['0'] as number) - 85) < 1e-9);
  const table = markdownTable('mnist', { 'pixel-knn': s });
  assert.match(table, /\| 0 0 \| 85\.0 \|/);
  // Two of MNIST's ten classes: the mean is marked as partial, not set in bold.
  assert.match(table, /\| 75\.0 \(2 of 10 classes only\) \|/);
  const full = summarise(Array.from({ length: 10 }, (_, k) => fake(k, 0, k < 5 ? 0.6 : 0.8)));
  assert.match(markdownTable('mnist', { duiad: full }), /\*\*70\.0\*\* ± 0\.0 \(1\)/);
});

test('parseClasses: all, lists, and bad values quoted', () => {
  assert.deepEqual(parseClasses('all', 'mnist'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(parseClasses('3,1,3', 'cifar10'), [3, 1]);
  for (const bad of ['10', '-1', 'x', '1.5']) {
    assert.throws(
      () => parseClasses(bad, 'mnist'),
      (e: unknown) => e instanceof UsageError && e.message.includes(`'${bad}'`),
    );
  }
});

test('runBench writes one result per split, resumes, and reports', async (t) => {
  const data = await tempDir(t);
  const out = await tempDir(t);
  await writeIdx(data, 'train', [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  await writeIdx(data, 't10k', [0, 1, 2, 2, 1, 0]);
  const plan = planFor('mnist', data, out, { classes: [0, 1], seeds: 2 });

  const events: BenchEvent[] = [];
  const written = await runBench(plan, (e) => events.push(e));
  assert.equal(written.length, 4);
  const result = JSON.parse(
    await readFile(resultPath(out, 'mnist', 'pixel-knn', 1, 0), 'utf8'),
  ) as SplitResult;
  assert.equal(result.trainImages, 4);
  assert.equal(result.testImages, 6);
  // Bright normals: the dark and barred test images are far away, so the split is perfect.
  assert.equal(result.auroc, 1);
  assert.equal(result.loadAverage?.length, 2);

  // A second run finds everything done.
  const again: BenchEvent[] = [];
  assert.deepEqual(await runBench(plan, (e) => again.push(e)), []);
  assert.equal(again.filter((e) => e.type === 'skip').length, 4);

  const summary = await writeReport(out, 'mnist');
  assert.equal(summary['mnist']?.['pixel-knn']?.seeds, 2);
  assert.match(await readFile(join(out, 'mnist', 'table.md'), 'utf8'), /\| 1 1 \| 100\.0 \|/);
});

test('runBench refuses a results folder made with another epoch budget', async (t) => {
  const data = await tempDir(t);
  const out = await tempDir(t);
  await writeIdx(data, 'train', [0, 1, 0, 1]);
  await writeIdx(data, 't10k', [0, 1]);
  const path = resultPath(out, 'mnist', 'duiad', 0, 0);
  await mkdir(dirname(path), { recursive: true });
  const made = {
    method: 'duiad',
    normalClass: 0,
    seed: 0,
    auroc: 0.5,
    profile: 'cpu',
    configuration: { epochs: 8 },
  };
  await writeFile(path, JSON.stringify(made));
  const plan = planFor('mnist', data, out, { methods: ['duiad'] });

  // The default budget is 8 epochs: the result counts as done, nothing is trained.
  const events: BenchEvent[] = [];
  assert.deepEqual(await runBench(plan, (e) => events.push(e)), []);
  assert.deepEqual(
    events.map((e) => e.type),
    ['skip'],
  );
  await assert.rejects(
    runBench({ ...plan, epochs: 32 }),
    (e: unknown) =>
      e instanceof UsageError && /8 epochs/.test(e.message) && /another --out/.test(e.message),
  );
  // Another class is refused too, before anything is trained or written.
  await assert.rejects(
    runBench({ ...plan, classes: [1], epochs: 32 }),
    (e: unknown) =>
      e instanceof UsageError && /8 epochs, not profile cpu, 32 epochs/.test(e.message),
  );
  await assert.rejects(readFile(resultPath(out, 'mnist', 'duiad', 1, 0)), { code: 'ENOENT' });
  await assert.rejects(
    runBench({ ...plan, profile: 'paper' }),
    (e: unknown) => e instanceof UsageError && /profile cpu/.test(e.message),
  );
});

/** CIFAR-100 binary records (coarse, fine, 3072 pixels): coarse 0 red, 19 grey, 7 striped. */
function cifar100Records(coarse: number[]): Buffer {
  return Buffer.concat(
    coarse.map((label, i) => {
      const record = Buffer.alloc(2 + 3072);
      record[0] = label;
      record[1] = (label * 5 + i) % 100;
      for (let p = 0; p < 3072; p++) {
        record[2 + p] =
          label === 0
            ? p < 1024
              ? 200 + (i % 5)
              : 5
            : label === 19
              ? 240 - ((i * 3 + p) % 11)
              : p % 32 < 16
                ? 255
                : 0;
      }
      return record;
    }),
  );
}

test('runBench runs CIFAR-100 superclasses from generated files in the binary layout', async (t) => {
  const data = await tempDir(t);
  const out = await tempDir(t);
  await writeFile(join(data, 'train.bin'), cifar100Records([0, 19, 7, 0, 19, 7, 0, 19]));
  await writeFile(join(data, 'test.bin'), cifar100Records([0, 19, 7, 7, 0, 19]));
  const plan = planFor('cifar100', data, out, { classes: [0, 19] });
  assert.equal((await runBench(plan)).length, 2);
  const last = JSON.parse(
    await readFile(resultPath(out, 'cifar100', 'pixel-knn', 19, 0), 'utf8'),
  ) as SplitResult;
  assert.equal(last.trainImages, 3);
  assert.equal(last.testImages, 6);
  assert.equal(last.auroc, 1);
  await writeReport(out, 'cifar100');
  const table = await readFile(join(out, 'cifar100', 'table.md'), 'utf8');
  assert.match(table, /\| 0 aquatic_mammals \| 100\.0 \|/);
  assert.match(table, /\| 19 vehicles_2 \| 100\.0 \|/);
});
