/**
 * `npm run bench:engine`: training (forward, cross-entropy, backward, SGD step) and inference
 * throughput of a CIFAR ResNet-18 and a small CNN on duiad's engine and on PyTorch
 * (benchmarks/engine/bench_torch.py), each measurement in its own process, the two sides
 * alternating, with the same threads, memory layout, precision and malloc settings.
 *
 * Usage: node dist/benchmarks/engine/bench.js [--json] [--rounds 2] [--steps 3]
 *          [--variants] [--out benchmarks/engine/results.json]
 * `--variants` also times the default NCHW layout and, on CPUs with native bfloat16
 * (avx512_bf16, AMX), bfloat16 autocast (one round each);
 * `--variants-only` times only those.
 * `--json` prints the full results, then one last line with the four ratios.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ResNet, resnetPresets } from '../../src/models/resnet.js';
import {
  BatchNorm2d,
  Conv2d,
  Generator,
  Linear,
  Module,
  ReLU,
  SGD,
  Sequential,
  type Tensor,
  autocast,
  channelsLast,
  crossEntropy,
  globalAvgPool,
  noGrad,
  randint,
  randn,
  setNumThreads,
  tidy,
} from '../../src/torch/index.js';

type ModelName = 'resnet18' | 'smallCnn';
type Mode = 'train' | 'infer';

/** One measurement's settings, passed to a worker process as JSON. */
interface WorkerConfig {
  model: ModelName;
  mode: Mode;
  batch: number;
  threads: number;
  steps: number;
  warmup: number;
  channelsLast: boolean;
  bf16: boolean;
}

interface WorkerResult {
  imagesPerSecond: number;
  secondsPerStep: number;
  peakRssMiB: number;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const classes = 10;

/** A classifier: an encoder to pooled features, then a linear head. */
class Classifier extends Module {
  constructor(
    readonly encoder: Module,
    readonly head: Linear,
  ) {
    super();
    this.child('encoder', encoder);
    this.child('head', head);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.head.forward(this.encoder.forward(x)));
  }
}

/** Four 3×3 conv + BN + ReLU layers (32-64-128-256 channels), then global average pooling. */
class SmallCnnEncoder extends Module {
  readonly layers: Sequential;

  constructor(cl: boolean, generator: Generator) {
    super();
    const parts: Module[] = [];
    let inC = 3;
    for (const outC of [32, 64, 128, 256]) {
      parts.push(new Conv2d(inC, outC, 3, { padding: 1, generator, channelsLast: cl }));
      parts.push(new BatchNorm2d(outC), new ReLU());
      inC = outC;
    }
    this.layers = this.child('layers', new Sequential(parts));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => globalAvgPool(this.layers.forward(x)));
  }
}

function buildModel(name: ModelName, cl: boolean): Classifier {
  const g = new Generator(0);
  if (name === 'resnet18') {
    const encoder = new ResNet({ inChannels: 3, ...resnetPresets.resnet18, channelsLast: cl }, g);
    return new Classifier(encoder, new Linear(512, classes, { generator: g }));
  }
  return new Classifier(new SmallCnnEncoder(cl, g), new Linear(256, classes, { generator: g }));
}

/** Multiply-adds × 2 of one forward pass per image (convolutions and the linear head). */
export function forwardFlops(name: ModelName): number {
  const conv = (cin: number, cout: number, k: number, side: number) =>
    2 * cin * cout * k * k * side * side;
  if (name === 'smallCnn') {
    return (
      conv(3, 32, 3, 32) +
      conv(32, 64, 3, 32) +
      conv(64, 128, 3, 32) +
      conv(128, 256, 3, 32) +
      2 * 256 * classes
    );
  }
  let flops = conv(3, 64, 3, 32);
  let inC = 64;
  let side = 32;
  [64, 128, 256, 512].forEach((outC, s) => {
    for (let b = 0; b < 2; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const out = side / stride;
      flops += conv(inC, outC, 3, out) + conv(outC, outC, 3, out);
      if (stride !== 1 || inC !== outC) flops += conv(inC, outC, 1, out);
      inC = outC;
      side = out;
    }
  });
  return flops + 2 * 512 * classes;
}

/** Worker: builds the model and times `steps` steps after `warmup` untimed ones. */
function runWorker(cfg: WorkerConfig): WorkerResult {
  setNumThreads(cfg.threads);
  const model = buildModel(cfg.model, cfg.channelsLast);
  const raw = randn([cfg.batch, 3, 32, 32], new Generator(1));
  const x = cfg.channelsLast ? channelsLast(raw) : raw;
  const y = randint(0, classes, [cfg.batch], new Generator(2));
  const sgd = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const mixed = <T>(fn: () => T): T => (cfg.bf16 ? autocast(fn) : fn());
  const trainStep = () =>
    tidy(() => {
      const loss = mixed(() => crossEntropy(model.forward(x).to('float32'), y));
      sgd.zeroGrad();
      loss.backward();
      sgd.step();
      return loss.item();
    });
  const inferStep = () =>
    tidy(() =>
      noGrad(() =>
        mixed(() => model.forward(x))
          .to('float32')
          .sum()
          .item(),
      ),
    );
  model.train(cfg.mode === 'train');
  const step = cfg.mode === 'train' ? trainStep : inferStep;
  for (let i = 0; i < cfg.warmup; i++) step();
  const start = performance.now();
  for (let i = 0; i < cfg.steps; i++) step();
  const seconds = (performance.now() - start) / 1000;
  return {
    imagesPerSecond: (cfg.batch * cfg.steps) / seconds,
    secondsPerStep: seconds / cfg.steps,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * Allocator settings given to both sides: glibc's defaults (no MALLOC_* variables), which
 * both the addon and PyTorch use. MALLOC_MMAP_MAX_=0 fragments Node's heap (see README.md).
 */
const mallocEnv: Record<string, string> = {};

function spawnWorker(side: 'duiad' | 'pytorch', cfg: WorkerConfig): WorkerResult {
  const [command, args] =
    side === 'duiad'
      ? [process.execPath, [fileURLToPath(import.meta.url), '--worker', JSON.stringify(cfg)]]
      : ['/usr/bin/python3', [join(root, 'benchmarks/engine/bench_torch.py'), JSON.stringify(cfg)]];
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MALLOC_')) delete env[k];
  Object.assign(env, mallocEnv, { OMP_NUM_THREADS: String(cfg.threads) });
  const result = spawnSync(command, args, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !last.startsWith('{')) {
    throw new Error(
      `bench: ${side} worker failed (${JSON.stringify(cfg)}): ${result.stderr.slice(-2000)}`,
    );
  }
  return JSON.parse(last) as WorkerResult;
}

/**
 * Peak float32 throughput of this machine: cores × clock × FLOPs per cycle per core. With
 * AVX2 and FMA (no AVX-512), a core issues two 256-bit FMAs per cycle: 2 × 8 lanes × 2
 * FLOPs = 32 FLOPs/cycle. The clock is the nominal one /proc/cpuinfo reports.
 */
function machinePeak(): { cores: number; mhz: number; flopsPerCycle: number; peakGflops: number } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? 0);
  const cores = cpus().length;
  const wide = /\bavx512f\b/.test(flags) ? 16 : /\bavx2\b/.test(flags) ? 8 : 4;
  const flopsPerCycle = 2 * wide * (/\bfma\b/.test(flags) ? 2 : 1);
  return {
    cores,
    mhz,
    flopsPerCycle,
    peakGflops: +((cores * mhz * flopsPerCycle) / 1000).toFixed(1),
  };
}

/** True when the CPU computes in bfloat16 natively (avx512_bf16 or AMX). */
function nativeBf16(): boolean {
  return /\b(avx512_bf16|amx_bf16)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

interface Comparison {
  duiad: { imagesPerSecond: number; runs: number[]; peakRssMiB: number };
  pytorch: { imagesPerSecond: number; runs: number[]; peakRssMiB: number };
  ratio: number;
  duiadGflops: number;
  load: number[];
}

/** Times both sides `rounds` times, alternating which goes first. */
function compare(cfg: WorkerConfig, rounds: number, log: (s: string) => void): Comparison {
  const runs = { duiad: [] as WorkerResult[], pytorch: [] as WorkerResult[] };
  const load: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order: ('duiad' | 'pytorch')[] =
      r % 2 === 0 ? ['duiad', 'pytorch'] : ['pytorch', 'duiad'];
    for (const side of order) {
      load.push(+(loadavg()[0] ?? 0).toFixed(2));
      const res = spawnWorker(side, cfg);
      runs[side].push(res);
      log(
        `${cfg.model} ${cfg.mode} cl=${cfg.channelsLast} bf16=${cfg.bf16} ${side}: ${res.imagesPerSecond.toFixed(1)} img/s (load ${load.at(-1)})`,
      );
    }
  }
  const summary = (rs: WorkerResult[]) => ({
    imagesPerSecond: +median(rs.map((r) => r.imagesPerSecond)).toFixed(2),
    runs: rs.map((r) => +r.imagesPerSecond.toFixed(2)),
    peakRssMiB: +Math.max(...rs.map((r) => r.peakRssMiB)).toFixed(1),
  });
  const duiad = summary(runs.duiad);
  const pytorch = summary(runs.pytorch);
  const flopsPerImage = forwardFlops(cfg.model) * (cfg.mode === 'train' ? 3 : 1);
  return {
    duiad,
    pytorch,
    ratio: +(duiad.imagesPerSecond / pytorch.imagesPerSecond).toFixed(3),
    duiadGflops: +((duiad.imagesPerSecond * flopsPerImage) / 1e9).toFixed(1),
    load,
  };
}

function main(): void {
  const json = process.argv.includes('--json');
  const rounds = Number(flag('--rounds', '2'));
  const steps = Number(flag('--steps', '3'));
  const out = flag('--out', join(root, 'benchmarks/engine/results.json'));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const base = { batch: 128, threads: 2, steps, warmup: 1 };
  const models: ModelName[] = ['resnet18', 'smallCnn'];
  const modes: Mode[] = ['train', 'infer'];
  const results: Record<string, Record<string, Comparison>> = {};
  const variants: Record<string, Comparison> = {};
  const report = () => ({
    date: new Date().toISOString(),
    settings: {
      ...base,
      memoryFormat: 'channelsLast',
      precision: 'float32',
      malloc: 'glibc defaults on both sides',
    },
    machine: { ...machinePeak(), nativeBf16: nativeBf16() },
    flopsPerImage: Object.fromEntries(models.map((m) => [m, forwardFlops(m)])),
    results,
    variants,
    ratios: Object.fromEntries(
      models.map((m) => [
        m,
        { trainRatio: results[m]?.['train']?.ratio, inferRatio: results[m]?.['infer']?.ratio },
      ]),
    ),
  });
  // Saved after every comparison, so an interrupted run keeps what it measured.
  const save = () => writeFileSync(out, JSON.stringify(report(), null, 2) + '\n');
  for (const model of process.argv.includes('--variants-only') ? [] : models) {
    results[model] = {};
    for (const mode of modes) {
      const cfg = { ...base, model, mode, channelsLast: true, bf16: false };
      (results[model] as Record<string, Comparison>)[mode] = compare(cfg, rounds, log);
      save();
    }
  }
  if (process.argv.includes('--variants') || process.argv.includes('--variants-only')) {
    for (const model of models) {
      for (const mode of modes) {
        const nchw = { ...base, model, mode, channelsLast: false, bf16: false };
        variants[`${model}.${mode}.nchw`] = compare(nchw, 1, log);
        save();
        // Without native bfloat16 arithmetic oneDNN emulates it slowly; skip, and say so.
        if (!nativeBf16()) continue;
        const bf16 = { ...base, model, mode, channelsLast: true, bf16: true };
        variants[`${model}.${mode}.bf16`] = compare(bf16, 1, log);
        save();
      }
    }
  }
  const { ratios } = report();
  save();
  if (json) {
    process.stdout.write(JSON.stringify(report()) + '\n');
    process.stdout.write(JSON.stringify(ratios) + '\n');
  } else {
    for (const m of models) {
      for (const mode of modes) {
        const c = results[m]?.[mode];
        if (!c) continue;
        process.stdout.write(
          `${m} ${mode}: duiad ${c.duiad.imagesPerSecond} img/s, PyTorch ${c.pytorch.imagesPerSecond} img/s, ratio ${c.ratio}; ` +
            `peak RSS ${c.duiad.peakRssMiB} vs ${c.pytorch.peakRssMiB} MiB; ${c.duiadGflops} GFLOP/s\n`,
        );
      }
    }
  }
}

if (process.argv[2] === '--worker') {
  const cfg = JSON.parse(process.argv[3] ?? '{}') as WorkerConfig;
  process.stdout.write(JSON.stringify(runWorker(cfg)) + '\n');
} else {
  main();
}
