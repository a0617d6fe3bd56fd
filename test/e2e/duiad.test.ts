/**
 * End to end on real Fashion-MNIST: a short DUIAD fit whose loss must fall, scored over the
 * whole real test set; and the CLI's train + eval on the same data.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import type { CliIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadDataset } from '../../src/data/datasets.js';
import { oneClassSplit, subset } from '../../src/data/oneclass.js';
import { loadDuiadModel } from '../../src/methods/duiad/model.js';
import { fitDuiad } from '../../src/methods/duiad/train.js';
import { auroc } from '../../src/metrics/index.js';
import { liveTensors } from '../../src/torch/index.js';
import { fashionMnistDir, fashionMnistHint, requireData, tempDir } from '../helpers/data.js';

function capture(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s), interactive: false };
}

test('a short fit on real Fashion-MNIST lowers the loss and scores the real test set', async (t) => {
  if (!requireData(t, fashionMnistDir, fashionMnistHint)) return;
  const train = await loadDataset('fashion-mnist', 'train');
  const test = await loadDataset('fashion-mnist', 'test');
  const split = oneClassSplit(train, test, 0);
  const fitSet = subset(split.train, Array.from({ length: 1024 }, (_, i) => i));
  const before = liveTensors();

  // Four epochs of eight steps: the mean loss of the last epoch must be below the first's.
  const losses: number[] = [];
  const model = await fitDuiad(
    fitSet,
    { epochs: 4, batchSize: 128, encoder: 'tiny', seed: 1 },
    { onProgress: (e) => (e.type === 'epoch' ? losses.push(e.loss) : undefined) },
  );
  assert.equal(losses.length, 4);
  assert.ok((losses[3] as number) < (losses[0] as number) - 0.05, `loss did not fall: ${losses.join(', ')}`);

  // Every one of the 10,000 real test images gets a finite score, and the AUROC is real.
  const scores = model.score(split.test);
  assert.equal(scores.length, 10_000);
  assert.ok(scores.every(Number.isFinite));
  const value = auroc(scores, split.testIsAnomaly);
  assert.ok(value > 0.6 && value <= 1, `AUROC ${value} is not better than chance`);
  model.dispose();
  assert.equal(liveTensors(), before, 'the fit leaked tensors');
});

test('duiad train then duiad eval --json on real Fashion-MNIST', async (t) => {
  if (!requireData(t, fashionMnistDir, fashionMnistHint)) return;
  const dir = await tempDir(t);
  const trainIO = capture();
  const args = ['train', '--dataset', 'fashion-mnist', '--normal-class', '1', '--epochs', '1'];
  const code = await run([...args, '--batch-size', '512', '--out', dir], trainIO);
  assert.equal(code, 0, trainIO.err.join(''));
  assert.match(trainIO.err.join(''), /epoch 1\/1: loss/);

  // The model file carries its configuration and where its test set lives.
  const { model, metadata } = await loadDuiadModel(join(dir, 'model.safetensors'));
  assert.equal(metadata.extra['dataset'], 'fashion-mnist');
  assert.equal(metadata.extra['normalClass'], 1);
  assert.equal(metadata.config.batchSize, 512);
  model.dispose();
  assert.ok((await readFile(join(dir, 'model.safetensors'))).length > 100_000);

  const evalIO = capture();
  assert.equal(await run(['eval', '--model', dir, '--json'], evalIO), 0, evalIO.err.join(''));
  const result = JSON.parse(evalIO.out.join('')) as Record<string, number>;
  assert.equal(result['testImages'], 10_000);
  assert.equal(result['anomalies'], 9_000);
  assert.ok((result['auroc'] as number) > 0.5 && (result['auroc'] as number) <= 1);
});
