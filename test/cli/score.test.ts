/**
 * The practical detector end to end through the CLI: `duiad train --data DIR` on generated
 * images, then `duiad score` with JSON lines, CSV and maps, and the exit codes.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import sharp from 'sharp';

import { type Outcome, cli } from '../helpers/cli.js';
import { anomalyExitCode } from '../../src/cli/score.js';
import { blob, hugePngHeader, stripes, writeImages } from '../helpers/images.js';

const lines = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let dir = '';
let model = '';
let trained: Outcome;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'duiad-cli-score-'));
  await mkdir(join(dir, 'normal'));
  await mkdir(join(dir, 'new'));
  await writeImages(join(dir, 'normal'), { name: 'n', count: 40, size: 24, make: blob, seed: 1 });
  await writeFile(join(dir, 'normal', 'notes.png'), 'text, not an image');
  await writeImages(join(dir, 'new'), { name: 'n', count: 3, size: 24, make: blob, seed: 5 });
  await writeImages(join(dir, 'new'), { name: 's', count: 3, size: 24, make: stripes, seed: 6 });
  await writeFile(join(dir, 'new', 'zz-bomb.png'), hugePngHeader(20_000, 20_000));
  model = join(dir, 'out', 'm.safetensors');
  trained = await cli(
    'train',
    '--data',
    join(dir, 'normal'),
    '--out',
    model,
    '--size',
    '16',
    '--epochs',
    '1',
    '--batch-size',
    '16',
    '--fpr',
    '0.25',
    '--seed',
    '2',
    '--json',
  );
});

after(() => rm(dir, { recursive: true, force: true }));

test('train --data writes one model file and reports the skipped file and the calibration', async () => {
  assert.equal(trained.code, 0, trained.stderr);
  const summary = JSON.parse(trained.stdout) as Record<string, unknown>;
  // 40 readable images, share 0.1: 4 held out; fpr 0.25 needs at least 3.
  assert.equal(summary['model'], model);
  assert.equal(summary['trainImages'], 36);
  assert.equal(summary['calibrationImages'], 4);
  assert.equal(summary['fpr'], 0.25);
  assert.equal((summary['skipped'] as unknown[]).length, 1);
  assert.match(trained.stderr, /warning: skipped .*notes\.png: .*is not a PNG, JPEG or WebP file/);
  assert.match(trained.stderr, /40 images read as 3×16×16 \(fill\), 1 files skipped/);
  assert.ok((await stat(model)).isFile());
});

test('score: JSON lines, an unreadable input in place, exit 10 when an anomaly is found', async () => {
  const result = await cli('score', '--model', model, join(dir, 'new'), join(dir, 'missing.png'));
  assert.equal(result.code, anomalyExitCode, result.stderr);
  const rows = lines(result.stdout);
  assert.deepEqual(
    rows.map((r) => (r['path'] as string).slice(dir.length + 1)),
    [
      'new/n-000.png',
      'new/n-001.jpg',
      'new/n-002.webp',
      'new/s-000.png',
      'new/s-001.jpg',
      'new/s-002.webp',
      'new/zz-bomb.png',
      'missing.png',
    ],
  );
  for (const r of rows.slice(0, 6)) {
    assert.deepEqual(Object.keys(r), ['path', 'score', 'pValue', 'isAnomaly', 'threshold']);
    assert.equal(r['isAnomaly'], (r['score'] as number) > (r['threshold'] as number));
  }
  assert.ok(rows.slice(3, 6).every((r) => r['isAnomaly'] === true));
  assert.equal(rows[6]?.['code'], 'E_VALUE');
  assert.match(rows[6]?.['error'] as string, /20,000×20,000 pixels/);
  assert.equal(rows[7]?.['code'], 'E_NOT_FOUND');
  assert.match(result.stderr, /warning: skipped .*zz-bomb\.png/);
  assert.match(result.stderr, /warning: skipped .*missing\.png: .*not found/);

  // One image the model calls normal, scored alone, exits 0.
  const normal = rows.find((r) => r['isAnomaly'] === false);
  assert.ok(normal, 'at least one generated normal image is under the threshold');
  const alone = await cli('score', '--model', model, normal['path'] as string);
  assert.equal(alone.code, 0, alone.stderr);
  assert.deepEqual(lines(alone.stdout), [normal]);
});

test('score --csv and --maps: a header, one row per input, one overlay per scored image', async () => {
  const maps = join(dir, 'maps');
  const result = await cli('score', '--model', model, '--csv', '--maps', maps, join(dir, 'new'));
  assert.equal(result.code, anomalyExitCode, result.stderr);
  const [header, ...rows] = result.stdout.trimEnd().split('\n');
  assert.equal(header, 'path,score,pValue,isAnomaly,threshold,code,error,map');
  assert.equal(rows.length, 7);
  assert.match(
    rows[0] ?? '',
    /n-000\.png,[0-9.e-]+,[0-9.e-]+,(true|false),[0-9.e-]+,,,.*n-000\.png$/,
  );
  assert.match(rows[6] ?? '', /zz-bomb\.png,,,,,E_VALUE,"image: .*",$/);
  const files = (await readdir(maps)).sort();
  assert.deepEqual(files, [
    'n-000.png',
    'n-001.png',
    'n-002.png',
    's-000.png',
    's-001.png',
    's-002.png',
  ]);
  const meta = await sharp(join(maps, 's-001.png')).metadata();
  assert.deepEqual([meta.width, meta.height], [16, 16]);
});

test('score: nothing readable is an error exit; a missing or uncalibrated model too', async () => {
  const text = join(dir, 'text.png');
  await writeFile(text, 'no image here');
  const bad = await cli('score', '--model', model, text);
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /error: score: no input could be scored \(first: .*text\.png/);
  const missing = await cli('score', '--model', join(dir, 'none.safetensors'), text);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /none\.safetensors does not exist/);
  const notModel = await cli('score', '--model', text, text);
  assert.equal(notModel.code, 4);
  assert.match(notModel.stderr, /text\.png/);
  const noPaths = await cli('score', '--model', model);
  assert.equal(noPaths.code, 2);
});

test('train: flag combinations are checked before any work', async () => {
  const folder = join(dir, 'normal');
  const cases: [string[], RegExp][] = [
    [['train'], /give --data DIR \(a folder of images\) or --dataset NAME/],
    [['train', '--data', folder, '--normal-class', '0'], /--normal-class needs --dataset/],
    [
      ['train', '--dataset', 'mnist', '--normal-class', '0', '--size', '8'],
      /--size applies to image folders/,
    ],
    [['train', '--data', folder, '--channels', '2'], /--channels must be one of 1, 3 \(got '2'\)/],
    [
      ['train', '--data', folder, '--resize', 'squash'],
      /--resize must be one of fill, cover, contain/,
    ],
    [['train', '--data', folder, '--fpr', '0'], /--fpr must be a number from/],
    [['train', '--data', folder, '--calibration-share', '1'], /--calibration-share must be/],
  ];
  for (const [argv, message] of cases) {
    const result = await cli(...argv);
    assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  // Too few held-out images for the target rate fails before training.
  const started = performance.now();
  const few = await cli('train', '--data', folder, '--out', join(dir, 'few'), '--fpr', '0.01');
  assert.equal(few.code, 4);
  assert.match(
    few.stderr,
    /4 held-out normal images cannot set a threshold at fpr 0.01 \(needs at least 99\)/,
  );
  assert.ok(performance.now() - started < 5000);
  // An empty folder is exit 3, a folder of text files exit 4.
  const empty = join(dir, 'empty');
  await mkdir(empty);
  assert.equal((await cli('train', '--data', empty)).code, 3);
});

test('help lists the score command, its flags and exit code 10', async () => {
  const help = await cli('--help');
  assert.match(help.stdout, /^\s+score\b/m);
  assert.match(help.stdout, /^\s+10\s+duiad score: at least one image was called anomalous/m);
  const scoreHelp = await cli('score', '--help');
  for (const flag of ['--model', '--csv', '--maps', '--recursive', '--max-pixels']) {
    assert.ok(scoreHelp.stdout.includes(flag), flag);
  }
  const trainHelp = await cli('train', '--help');
  const text = trainHelp.stdout.replace(/\s+/g, ' ');
  for (const expected of [
    '--size <n> image folders: input size in pixels, square (default 32)',
    '--channels <n> image folders: 1 (greyscale) or 3 (RGB) (default 3)',
    'fill (stretch, default), cover (centre crop), contain (pad with black)',
    'target false-positive rate of the threshold (default 0.05)',
    '(default 0.1 with --data;',
  ]) {
    assert.ok(text.includes(expected), expected);
  }
});

/** Writes a tiny MNIST-style split `prefix` (idx files) of 8×8 images into `folder`. */
async function writeIdx(folder: string, prefix: string, labels: number[]): Promise<void> {
  const n = labels.length;
  const images = Buffer.alloc(16 + n * 64);
  images.writeUInt32BE(0x00000803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(8, 8);
  images.writeUInt32BE(8, 12);
  for (let i = 0; i < n * 64; i++) images[16 + i] = (i * 37 + (labels[i >> 6] ?? 0) * 90) % 251;
  const labelFile = Buffer.alloc(8 + n);
  labelFile.writeUInt32BE(0x00000801, 0);
  labelFile.writeUInt32BE(n, 4);
  labels.forEach((l, i) => (labelFile[8 + i] = l));
  await writeFile(join(folder, `${prefix}-images-idx3-ubyte`), images);
  await writeFile(join(folder, `${prefix}-labels-idx1-ubyte`), labelFile);
}

test('train --dataset calibrates only when asked; the calibrated model scores image files', async () => {
  const mnist = join(dir, 'mnist');
  await mkdir(mnist);
  await writeIdx(
    mnist,
    'train',
    Array.from({ length: 40 }, (_, i) => (i < 30 ? 0 : 1)),
  );
  await writeIdx(
    mnist,
    't10k',
    Array.from({ length: 10 }, (_, i) => i % 2),
  );
  const base = ['train', '--dataset', 'mnist', '--data', mnist, '--normal-class', '0'];
  const tiny = ['--epochs', '1', '--batch-size', '8', '--json'];
  const calibrated = await cli(
    ...base,
    ...tiny,
    '--out',
    join(dir, 'mc'),
    '--calibration-share',
    '0.2',
    '--fpr',
    '0.25',
  );
  assert.equal(calibrated.code, 0, calibrated.stderr);
  const summary = JSON.parse(calibrated.stdout) as Record<string, unknown>;
  assert.deepEqual([summary['trainImages'], summary['calibrationImages']], [24, 6]);
  const scored = await cli('score', '--model', join(dir, 'mc'), join(dir, 'new', 's-000.png'));
  assert.ok([0, anomalyExitCode].includes(scored.code), scored.stderr);
  assert.equal(lines(scored.stdout).length, 1);

  const plain = await cli(...base, ...tiny, '--out', join(dir, 'mp'));
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal((JSON.parse(plain.stdout) as Record<string, unknown>)['trainImages'], 30);
  const refused = await cli('score', '--model', join(dir, 'mp'), join(dir, 'new', 's-000.png'));
  assert.equal(refused.code, 5);
  assert.match(refused.stderr, /has no calibration/);
  // eval reads both.
  for (const m of ['mc', 'mp']) {
    const evaluated = await cli('eval', '--model', join(dir, m), '--json');
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal((JSON.parse(evaluated.stdout) as Record<string, unknown>)['testImages'], 10);
  }
});
