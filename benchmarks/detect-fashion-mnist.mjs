#!/usr/bin/env node
// The practical detector on real images, through the CLI as a user runs it: Fashion-MNIST
// images exported to PNG files in a temporary folder, `duiad train --data` on normal images
// (class 0, T-shirt/top, from the TRAINING set), then `duiad score --maps` on a folder of
// TEST images (class 0 normals and a mix of the other nine classes). Reports the measured
// false-positive rate on the normal test images (never seen in training or calibration)
// against the target --fpr, the true-positive rate, and AUROC. The folder is deleted after.
//
// As a check of exchangeability within one split, it also scores the next TEST_PER_SIDE
// class-0 TRAINING images (not used for training or calibration either): `measuredFprTrain`.
//
// Usage: node benchmarks/detect-fashion-mnist.mjs [TRAIN_IMAGES] [TEST_PER_SIDE] [SEEDS] [FPR]
//        [FIRST_SEED]
// (after `npm run build`); defaults 2000, 1000, 3, 0.05, 0. Prints one JSON line per seed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';

import { loadDataset } from '../dist/src/data/datasets.js';
import { auroc } from '../dist/src/metrics/index.js';

const [trainCount, testPerSide, seeds, fpr, firstSeed] = [
  Number(process.argv[2] ?? 2000),
  Number(process.argv[3] ?? 1000),
  Number(process.argv[4] ?? 3),
  process.argv[5] ?? '0.05',
  Number(process.argv[6] ?? 0),
];
const cli = join(import.meta.dirname, '..', 'bin', 'duiad.js');
const dir = mkdtempSync(join(tmpdir(), 'duiad-fmnist-'));

/** Writes image `i` of `set` (28×28 grey) as a PNG file. */
async function writePng(set, i, path) {
  const bytes = set.images.subarray(i * 784, (i + 1) * 784);
  await sharp(bytes, { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toFile(path);
}

try {
  // Export: the first normal training images; normal test images and as many anomalies,
  // taken in turn from classes 1..9.
  const train = await loadDataset('fashion-mnist', 'train');
  const test = await loadDataset('fashion-mnist', 'test');
  mkdirSync(join(dir, 'normal'));
  mkdirSync(join(dir, 'new'));
  mkdirSync(join(dir, 'unseen-train'));
  const normalTrain = [...train.labels.keys()].filter((i) => train.labels[i] === 0);
  for (const [j, i] of normalTrain.slice(0, trainCount).entries()) {
    await writePng(train, i, join(dir, 'normal', `${String(j).padStart(5, '0')}.png`));
  }
  for (const i of normalTrain.slice(trainCount, trainCount + testPerSide)) {
    await writePng(train, i, join(dir, 'unseen-train', `${String(i).padStart(5, '0')}.png`));
  }
  const normalTest = [...test.labels.keys()].filter((i) => test.labels[i] === 0);
  const otherTest = [...test.labels.keys()].filter((i) => test.labels[i] !== 0);
  const picked = [...normalTest.slice(0, testPerSide), ...otherTest.slice(0, testPerSide)];
  for (const i of picked) {
    await writePng(
      test,
      i,
      join(dir, 'new', `t${String(i).padStart(5, '0')}-c${test.labels[i]}.png`),
    );
  }

  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    // Train on the folder (10% held out for calibration), as grey 28×28.
    const model = join(dir, `model-${seed}.safetensors`);
    const started = performance.now();
    const trained = JSON.parse(
      execFileSync(
        'node',
        [
          cli,
          'train',
          '--data',
          join(dir, 'normal'),
          '--channels',
          '1',
          '--size',
          '28',
          '--fpr',
          fpr,
          '--seed',
          String(seed),
          '--out',
          model,
          '--json',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    );
    const trainSeconds = (performance.now() - started) / 1000;

    // Score the test folder; exit 10 means some image was called anomalous.
    const scoring = performance.now();
    const scored = spawnSync('node', [cli, 'score', '--model', model, join(dir, 'new')], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    if (scored.status !== 10 && scored.status !== 0) throw new Error(scored.stderr);
    const scoreSeconds = (performance.now() - scoring) / 1000;
    const rows = scored.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const isAnomaly = Uint8Array.from(rows, (r) => (/-c0\.png$/.test(r.path) ? 0 : 1));
    const normals = rows.filter((_, j) => isAnomaly[j] === 0);
    const anomalies = rows.filter((_, j) => isAnomaly[j] === 1);
    const rate = (list) => list.filter((r) => r.isAnomaly).length / list.length;

    // The same model on unseen normal images of the training split.
    const unseen = spawnSync('node', [cli, 'score', '--model', model, join(dir, 'unseen-train')], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const unseenRows = unseen.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));

    // Maps for a sample of ten test images (occlusion is ~50 forward passes an image).
    const mapping = performance.now();
    const sample = rows.filter((_, j) => j % Math.ceil(rows.length / 10) === 0).map((r) => r.path);
    const mapped = spawnSync(
      'node',
      [cli, 'score', '--model', model, '--maps', join(dir, `maps-${seed}`), ...sample],
      { encoding: 'utf8' },
    );
    const maps = mapped.stdout
      .trimEnd()
      .split('\n')
      .filter((l) => JSON.parse(l).map).length;
    const mapSeconds = (performance.now() - mapping) / 1000;
    console.log(
      JSON.stringify({
        seed,
        targetFpr: Number(fpr),
        trainImages: trained.trainImages,
        calibrationImages: trained.calibrationImages,
        threshold: trained.threshold,
        testNormals: normals.length,
        testAnomalies: anomalies.length,
        measuredFpr: rate(normals),
        measuredFprTrain: rate(unseenRows),
        unseenTrainNormals: unseenRows.length,
        tpr: rate(anomalies),
        auroc: auroc(
          Float64Array.from(rows, (r) => r.score),
          isAnomaly,
        ),
        exitCode: scored.status,
        trainSeconds,
        scoreSeconds,
        maps,
        mapSeconds,
      }),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
