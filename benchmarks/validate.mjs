#!/usr/bin/env node
// Chooses DUIAD defaults without touching any test set: a validation split carved from the
// TRAINING set. Normal class c: the first 5/6 of its training images are fitted, the last
// 1/6 are held-out normals; 1,000 training images of the other classes (every n-th one, a
// fixed pick) are the held-out anomalies. Prints AUROC (percent) of the kNN score for
// k = 1, 5, 20 and, when the rotation classifier was trained, of the rotation score.
//
// Usage: node benchmarks/validate.mjs DATASET CLASS EPOCHS ['{"beta": 5, ...}']
// (after `npm run build`; DATASET as in `duiad train --dataset`).
import { loadDataset, parseDatasetName } from '../dist/src/data/datasets.js';
import { subset } from '../dist/src/data/oneclass.js';
import { fitDuiad } from '../dist/src/methods/duiad/train.js';
import { knnScores } from '../dist/src/methods/knn.js';
import { rotationScores } from '../dist/src/methods/duiad/rotation-score.js';
import { auroc } from '../dist/src/metrics/index.js';

const [name, cls, epochs] = [parseDatasetName(process.argv[2] ?? ''), Number(process.argv[3]), Number(process.argv[4])];
const overrides = JSON.parse(process.argv[5] ?? '{}');
const train = await loadDataset(name, 'train');

// The split: fitted normals, held-out normals, held-out anomalies.
const normal = [];
const other = [];
train.labels.forEach((label, i) => (label === cls ? normal : other).push(i));
const fitted = Math.round((normal.length * 5) / 6);
const stride = Math.floor(other.length / 1000);
const anomalies = other.filter((_, j) => j % stride === 0).slice(0, 1000);
const heldOut = [...normal.slice(fitted), ...anomalies];
const isAnomaly = Uint8Array.from(heldOut, (_, j) => (j < normal.length - fitted ? 0 : 1));

// Fit, then score the held-out images against the fitted normals' features.
const started = performance.now();
const model = await fitDuiad(subset(train, normal.slice(0, fitted)), { epochs, ...overrides });
const features = model.features(subset(train, heldOut));
const percent = (scores) => (100 * auroc(scores, isAnomaly)).toFixed(2);
const results = [1, 5, 20].map((k) => `k${k} ${percent(knnScores(features, model.bank, k))}`);
if (model.config.mi !== 'infonce') {
  const rotation = rotationScores(model.net, subset(train, heldOut), model.prep);
  results.push(`rotation ${percent(rotation)}`);
  // Both scores, each standardised by its mean and spread over the fitted normal images
  // (their kNN score leaves each image's own match out by asking for k + 1 neighbours).
  const fittedSet = subset(train, normal.slice(0, fitted));
  const knnFitted = knnScores(model.bank, model.bank, 6);
  const rotFitted = rotationScores(model.net, fittedSet, model.prep);
  const stats = (xs) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return [m, Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length) || 1];
  };
  const [km, ks] = stats(knnFitted);
  const [rm, rs] = stats(rotFitted);
  const knn5 = knnScores(features, model.bank, 5);
  const combined = knn5.map((v, i) => (v - km) / ks + (rotation[i] - rm) / rs);
  results.push(`combined ${percent(combined)}`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(0);
console.log(`VAL ${name} class ${cls} epochs ${epochs} ${JSON.stringify(overrides)}: ${results.join(' ')} (${seconds} s)`);
