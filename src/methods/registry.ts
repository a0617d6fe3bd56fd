/**
 * Every detector the benchmark can run, by name, each fitted on the same normal images and
 * scored on the same test images. DUIAD variants differ only in configuration.
 */
import type { ImageSet } from '../data/types.js';
import { UsageError } from '../errors.js';
import type { FitOptions, FittedDetector } from './detector.js';
import type { DuiadConfig } from './duiad/config.js';
import { fitDuiad } from './duiad/train.js';
import { fitDeepSvdd } from './deep-svdd/train.js';
import { fitPixelKnn } from './pixel-knn/detector.js';

/** A fitted detector and the seconds its fit took. */
export type Fitted = FittedDetector & { trainingSeconds: number };

/** How to fit one method: the seed and shared DUIAD overrides (a benchmark profile). */
export interface MethodRun {
  seed: number;
  duiad: Partial<DuiadConfig>;
  options?: FitOptions;
}

type Fit = (train: ImageSet, run: MethodRun) => Promise<Fitted>;

/** A method: how to fit it, what it is, and whether it takes the DUIAD configuration. */
export interface MethodSpec {
  fit: Fit;
  about: string;
  /** True for DUIAD variants: benchmark profiles and `--epochs` apply to them. */
  duiadFamily?: true;
}

/** A DUIAD variant: the benchmark's DUIAD settings, then `overrides`, then the seed. */
const variant = (overrides: Partial<DuiadConfig>, about: string): MethodSpec => ({
  fit: (train, run) => fitDuiad(train, { ...run.duiad, ...overrides, seed: run.seed }, run.options),
  about,
  duiadFamily: true,
});

/** The methods by name, with what each is. */
export const methods: Readonly<Record<string, MethodSpec>> = {
  duiad: variant({}, 'DUIAD defaults: InfoNCE + rotation + 5 × vmf entropy'),
  'duiad-infonce': variant(
    { mi: 'infonce' },
    'DUIAD without the rotation term: InfoNCE + 5 × vmf entropy',
  ),
  'duiad-center': variant({ entropy: 'center' }, 'DUIAD, center entropy'),
  'duiad-gaussian': variant({ entropy: 'gaussian' }, 'DUIAD, Gaussian entropy'),
  'simclr-knn': variant(
    { mi: 'infonce', beta: 0 },
    'contrastive only (DUIAD with beta 0 and no rotation term)',
  ),
  rotnet: variant(
    { mi: 'rotation', beta: 0, score: 'rotation' },
    'rotation prediction (GEOM-style, 4 rotations), scored by the rotation classifier',
  ),
  'duiad-rotscore': variant(
    { score: 'rotation' },
    'DUIAD defaults, scored by the rotation classifier instead of kNN',
  ),
  'duiad-combined': variant(
    { score: 'combined' },
    'DUIAD defaults, scored by kNN and the rotation classifier together, each standardised',
  ),
  'deep-svdd': {
    fit: (train, run) => fitDeepSvdd(train, { seed: run.seed }, run.options),
    about: 'one-class Deep SVDD: bias-free CNN pulled towards a centre fixed at initialisation',
  },
  'pixel-knn': { fit: (train) => fitPixelKnn(train), about: 'raw pixels, cosine kNN (k 5)' },
};

/** Parses a comma-separated method list; UsageError names an unknown one. */
export function parseMethods(text: string): string[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.find((n) => !(n in methods));
  if (unknown !== undefined || names.length === 0) {
    throw new UsageError(
      `--methods: unknown method '${unknown ?? text}' (use ${Object.keys(methods).join(', ')})`,
    );
  }
  return [...new Set(names)];
}
