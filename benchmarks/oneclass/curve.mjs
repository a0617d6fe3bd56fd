#!/usr/bin/env node
// AUROC against training time for DUIAD: the one-class benchmark at several epoch budgets,
// each budget a separate training run (its own cosine schedule) written to its own folder,
// `results-curve/<dataset>/epochs-<E>/`. The default budget's point is read from the main
// results folder when it holds the same classes. Prints one Markdown table and writes it
// to `results-curve/<dataset>/curve.md`. Resumable: finished splits are skipped.
//
// Usage: node benchmarks/oneclass/curve.mjs DATASET CLASSES EPOCHS [--data PATH]
//   e.g. node benchmarks/oneclass/curve.mjs cifar10 0,3 4,16,32 --data ../shared/data/cifar-10-binary.tar.gz
// (after `npm run build`.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { defaultDuiadConfig } from '../../dist/src/methods/duiad/config.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const [dataset, classList, epochList] = process.argv.slice(2, 5);
if (!dataset || !classList || !epochList) {
  console.error('usage: node benchmarks/oneclass/curve.mjs DATASET CLASSES EPOCHS [--data PATH]');
  process.exit(2);
}
const dataAt = process.argv.indexOf('--data');
const data = dataAt > 0 ? ['--data', process.argv[dataAt + 1]] : [];
const classes = classList.split(',').map(Number);
const budgets = epochList.split(',').map(Number);
const defaultEpochs = defaultDuiadConfig.epochs;
const curveDir = join(here, 'results-curve', dataset);

function readPoint(folder, k) {
  const path = join(folder, dataset, 'duiad', `class-${k}-seed-0.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

for (const epochs of budgets) {
  const out = join(curveDir, `epochs-${epochs}`);
  mkdirSync(out, { recursive: true });
  const args = ['bin/duiad.js', 'bench', '--dataset', dataset, ...data, '--methods', 'duiad'];
  args.push('--classes', classes.join(','), '--epochs', String(epochs), '--out', out);
  console.error(`\n== ${epochs} epochs ==`);
  const run = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (run.status !== 0) {
    console.error(`curve: the ${epochs}-epoch run failed (exit ${run.status})`);
    process.exit(1);
  }
}

// One row per budget: training seconds and AUROC per class, and their means.
const rows = [];
const points = [
  [defaultEpochs, join(here, 'results')],
  ...budgets.map((e) => [e, join(curveDir, `epochs-${e}`)]),
];
for (const [epochs, folder] of points.sort((a, b) => a[0] - b[0])) {
  const results = classes.map((k) => readPoint(folder, k));
  if (results.some((r) => r === undefined || r.configuration.epochs !== epochs)) continue;
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push({
    epochs,
    seconds: results.map((r) => r.trainingSeconds),
    auroc: results.map((r) => 100 * r.auroc),
    load: results.map((r) => r.loadAverage?.join('→') ?? 'not recorded'),
  });
  const last = rows.at(-1);
  last.meanSeconds = mean(last.seconds);
  last.meanAuroc = mean(last.auroc);
}
const header = `| epochs | training s / class (mean) | ${classes.map((k) => `class ${k}: AUROC (s, load)`).join(' | ')} | mean AUROC |`;
const lines = [header, `|${' --- |'.repeat(classes.length + 3)}`];
for (const r of rows) {
  const cells = r.auroc.map(
    (a, i) => `${a.toFixed(1)} (${r.seconds[i].toFixed(0)} s, ${r.load[i]})`,
  );
  lines.push(
    `| ${r.epochs} | ${r.meanSeconds.toFixed(0)} | ${cells.join(' | ')} | ${r.meanAuroc.toFixed(1)} |`,
  );
}
const table = `${lines.join('\n')}\n`;
writeFileSync(join(curveDir, 'curve.md'), table);
process.stdout.write(table);
