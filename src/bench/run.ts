/**
 * The one-class benchmark: for each normal class, method and seed, fit on that class's
 * training images, score the full test set and write one JSON result. Finished splits are
 * found on disk and skipped, so an interrupted run resumes where it stopped.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform } from 'node:os';
import { dirname, join } from 'node:path';

import { type DatasetName, loadDataset } from '../data/datasets.js';
import { oneClassSplit } from '../data/oneclass.js';
import { type DuiadConfig, defaultDuiadConfig } from '../methods/duiad/config.js';
import { duiadVersion } from '../methods/duiad/model.js';
import { methods } from '../methods/registry.js';
import { aupr, auroc, fprAtTpr } from '../metrics/index.js';
import { UsageError } from '../errors.js';
import { readResults } from './report.js';
import { engineVersion, getNumThreads } from '../torch/index.js';

/** Benchmark profiles: `cpu` fits a 2-core machine; `paper` is ResNet-18 with long training. */
export const profiles: Readonly<Record<'cpu' | 'paper', Partial<DuiadConfig>>> = {
  cpu: {},
  paper: { encoder: 'resnet18', epochs: 200, batchSize: 512 },
};

export type Profile = keyof typeof profiles;

/** What to run. */
export interface BenchPlan {
  dataset: DatasetName;
  dataPath: string;
  classes: readonly number[];
  methods: readonly string[];
  seeds: number;
  profile: Profile;
  /** Overrides the profile's epochs for the DUIAD family (the AUROC-against-time curve). */
  epochs?: number;
  out: string;
}

/** One split's result, as written to `out/<dataset>/<method>/class-<k>-seed-<s>.json`. */
export interface SplitResult {
  dataset: DatasetName;
  normalClass: number;
  method: string;
  seed: number;
  profile: Profile;
  configuration: Record<string, unknown>;
  versions: { duiad: string; libtorch: string; node: string };
  machine: { cpu: string; cores: number; threads: number; platform: string };
  trainImages: number;
  testImages: number;
  trainingSeconds: number;
  /** One-minute load average when the split started and when its training ended. */
  loadAverage?: [number, number];
  auroc: number;
  aupr: number;
  fpr95: number;
}

/** Progress of a benchmark run. */
export type BenchEvent =
  | { type: 'skip'; path: string }
  | { type: 'split'; method: string; normalClass: number; seed: number }
  | { type: 'result'; path: string; result: SplitResult };

/** Where one split's result lives. */
export function resultPath(
  out: string,
  dataset: string,
  method: string,
  k: number,
  seed: number,
): string {
  return join(out, dataset, method, `class-${k}-seed-${seed}.json`);
}

/** Whether `path` holds a finished result (a JSON object with a numeric AUROC). */
async function finished(path: string): Promise<boolean> {
  try {
    const result = JSON.parse(await readFile(path, 'utf8')) as Partial<SplitResult>;
    return typeof result.auroc === 'number';
  } catch {
    return false;
  }
}

/**
 * Refuses, before any training, a results folder holding a result of `dataset` made with
 * another profile or, for DUIAD variants, another number of epochs: one folder's table and
 * summary never mix training budgets.
 */
async function checkFolder(out: string, dataset: string, profile: Profile, epochs: number) {
  for (const result of await readResults(out, dataset)) {
    const family = methods[result.method]?.duiadFamily === true;
    const madeWith = result.configuration?.['epochs'];
    if (result.profile === profile && (!family || madeWith === epochs)) continue;
    const path = resultPath(out, dataset, result.method, result.normalClass, result.seed);
    throw new UsageError(
      `bench: ${path} was made with profile ${String(result.profile)}` +
        `${family ? `, ${String(madeWith)} epochs` : ''}, not profile ` +
        `${profile}${family ? `, ${epochs} epochs` : ''}; ` +
        'write these settings to another --out folder',
    );
  }
}

function machine(): SplitResult['machine'] {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown';
  return { cpu, cores: cpus().length, threads: getNumThreads(), platform: platform() };
}

/** Runs every unfinished split of `plan`; returns the paths written. */
export async function runBench(
  plan: BenchPlan,
  onEvent: (e: BenchEvent) => void = () => {},
): Promise<string[]> {
  const written: string[] = [];
  const duiad: Partial<DuiadConfig> = {
    ...profiles[plan.profile],
    ...(plan.epochs === undefined ? {} : { epochs: plan.epochs }),
  };
  const epochs = duiad.epochs ?? defaultDuiadConfig.epochs;
  await checkFolder(plan.out, plan.dataset, plan.profile, epochs);
  const train = await loadDataset(plan.dataset, 'train', plan.dataPath);
  const test = await loadDataset(plan.dataset, 'test', plan.dataPath);
  for (const k of plan.classes) {
    const split = oneClassSplit(train, test, k);
    for (const method of plan.methods) {
      for (let seed = 0; seed < plan.seeds; seed++) {
        const spec = methods[method];
        if (!spec) throw new UsageError(`bench: unknown method '${method}'`);
        const path = resultPath(plan.out, plan.dataset, method, k, seed);
        if (await finished(path)) {
          onEvent({ type: 'skip', path });
          continue;
        }
        onEvent({ type: 'split', method, normalClass: k, seed });
        const loadBefore = loadavg()[0] ?? 0;
        const model = await spec.fit(split.train, { seed, duiad });
        const loadAfter = loadavg()[0] ?? 0;
        const scores = model.score(split.test);
        const result: SplitResult = {
          dataset: plan.dataset,
          normalClass: k,
          method,
          seed,
          profile: plan.profile,
          configuration: {
            about: spec.about,
            ...('config' in model ? (model.config as object) : {}),
          },
          versions: { duiad: duiadVersion, libtorch: engineVersion(), node: process.versions.node },
          machine: machine(),
          trainImages: split.train.count,
          testImages: split.test.count,
          trainingSeconds: model.trainingSeconds,
          loadAverage: [Number(loadBefore.toFixed(2)), Number(loadAfter.toFixed(2))],
          auroc: auroc(scores, split.testIsAnomaly),
          aupr: aupr(scores, split.testIsAnomaly),
          fpr95: fprAtTpr(scores, split.testIsAnomaly, 0.95),
        };
        model.dispose();

        // Written under a temporary name first, so a crash never leaves a half-written result.
        await mkdir(dirname(path), { recursive: true });
        await writeFile(`${path}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
        await rename(`${path}.tmp`, path);
        written.push(path);
        onEvent({ type: 'result', path, result });
      }
    }
  }
  return written;
}
