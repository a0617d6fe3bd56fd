#!/usr/bin/env node
// Chooses DUIAD defaults without touching any test set: a validation split carved from the
// TRAINING set. Normal class c: the first 5/6 of its training images are fitted, the last
// 1/6 are held-out normals; 1,000 training images of the other classes (every n-th one, a
// fixed pick) are the held-out anomalies. Prints AUROC (percent) of the kNN score for
// k = 1, 5, 20 and, when the rotation classifier was trained, of the rotation score and of
// the combined score (`--score combined`).
//
// Usage: node benchmarks/validate.mjs DATASET CLASS EPOCHS ['{"beta": 5, ...}']
// (after `npm run build`; DATASET as in `duiad train --dataset`).
import { loadDataset, parseDatasetName } from '../dist/src/data/datasets.js';
import { subset } from '../dist/src/data/oneclass.js';
import { resolveDuiadConfig } from '../dist/src/methods/duiad/config.js';
import { fitDuiad } from '../dist/src/methods/duiad/train.js';
import { knnScores } from '../dist/src/methods/knn.js';
import { rotationScores } from '../dist/src/methods/duiad/rotation-score.js';
import { auroc } from '../dist/src/metrics/index.js';

const [name, cls, epochs] = [
  parseDatasetName(process.argv[2] ?? ''),
  Number(process.argv[3]),
  Number(process.argv[4]),
];
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

// Fit, then score the held-out images against the fitted normals' features. With a rotation
// classifier the model is fitted for the combined score, whose training statistics the
// library measures; the kNN and rotation scores are then read separately as well.
const started = performance.now();
const withRotation = resolveDuiadConfig(overrides).mi !== 'infonce';
const scoring = withRotation ? { score: 'combined' } : {};
const model = await fitDuiad(subset(train, normal.slice(0, fitted)), {
  epochs,
  ...overrides,
  ...scoring,
});
const heldOutSet = subset(train, heldOut);
const features = model.features(heldOutSet);
const percent = (scores) => (100 * auroc(scores, isAnomaly)).toFixed(2);
const results = [1, 5, 20].map((k) => `k${k} ${percent(knnScores(features, model.bank, k))}`);
if (withRotation) {
  results.push(`rotation ${percent(rotationScores(model.net, heldOutSet, model.prep))}`);
  results.push(`combined ${percent(model.score(heldOutSet))}`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(0);
console.log(
  `VAL ${name} class ${cls} epochs ${epochs} ${JSON.stringify(overrides)}: ${results.join(' ')} (${seconds} s)`,
);
