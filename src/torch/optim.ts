/**
 * Optimisers and learning-rate schedules. Steps run in libtorch, in place, outside autograd.
 */
import { ValueError } from '../errors.js';
import { native } from './native.js';
import { zeros } from './ops.js';
import { Tensor, keep } from './tensor.js';

/** Options of SGD; the defaults are the ones duiad trains with. */
export interface SgdConfig {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

function checkRate(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new ValueError(`optim: ${name} must be a finite number >= 0 (got ${value})`);
  }
}

/** Stochastic gradient descent with momentum and (coupled) weight decay, as in PyTorch. */
export class SGD {
  readonly params: readonly Tensor[];
  readonly config: Required<SgdConfig>;
  lr: number;
  #buffers: Tensor[];
  #steps = 0;

  constructor(params: readonly Tensor[], config: SgdConfig) {
    this.params = params;
    this.config = { momentum: 0.9, weightDecay: 0, nesterov: false, ...config };
    for (const [k, v] of Object.entries(this.config)) if (typeof v === 'number') checkRate(k, v);
    this.lr = config.lr;
    this.#buffers = params.map((p) => keep(zeros(p.shape, p.dtype)));
  }

  /** Applies one update with the gradients currently stored on the parameters. */
  step(): void {
    checkRate('lr', this.lr);
    native.sgdStep(
      this.params.map((p) => p.handle),
      this.#buffers.map((b) => b.handle),
      this.lr,
      this.config.momentum,
      this.config.weightDecay,
      this.config.nesterov,
      this.#steps === 0,
    );
    this.#steps++;
  }

  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }

  dispose(): void {
    for (const b of this.#buffers) b.dispose();
    this.#buffers = [];
  }
}

/**
 * Learning rate at `step` of `total` for a linear warm-up over `warmup` steps followed by a
 * cosine decay from `base` to `base * finalRatio`.
 */
export function cosineSchedule(
  step: number,
  total: number,
  options: { base: number; warmup?: number; finalRatio?: number },
): number {
  const warmup = options.warmup ?? 0;
  if (step < warmup) return (options.base * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  const floor = options.base * (options.finalRatio ?? 0);
  return floor + 0.5 * (options.base - floor) * (1 + Math.cos(Math.PI * progress));
}

/** Options of AdamW; the defaults are PyTorch's. */
export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`. */
export class AdamW {
  readonly params: readonly Tensor[];
  readonly config: Required<AdamWConfig>;
  lr: number;
  #expAvg: Tensor[];
  #expAvgSq: Tensor[];
  #steps = 0;

  constructor(params: readonly Tensor[], config: AdamWConfig) {
    this.params = params;
    this.config = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, ...config };
    for (const k of ['lr', 'eps', 'weightDecay'] as const) checkRate(k, this.config[k]);
    for (const k of ['beta1', 'beta2'] as const) {
      const b = this.config[k];
      if (!(b >= 0 && b < 1)) throw new ValueError(`optim: ${k} must be in [0, 1) (got ${b})`);
    }
    this.lr = config.lr;
    this.#expAvg = params.map((p) => keep(zeros(p.shape, p.dtype)));
    this.#expAvgSq = params.map((p) => keep(zeros(p.shape, p.dtype)));
  }

  /** Applies one update with the gradients currently stored on the parameters. */
  step(): void {
    checkRate('lr', this.lr);
    this.#steps++;
    const c = this.config;
    native.adamwStep(
      this.params.map((p) => p.handle),
      this.#expAvg.map((t) => t.handle),
      this.#expAvgSq.map((t) => t.handle),
      this.#steps,
      this.lr,
      c.beta1,
      c.beta2,
      c.eps,
      c.weightDecay,
    );
  }

  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }

  dispose(): void {
    for (const t of [...this.#expAvg, ...this.#expAvgSq]) t.dispose();
    this.#expAvg = [];
    this.#expAvgSq = [];
  }
}

/**
 * Scales the gradients of `params` in place so that their global L2 norm is at most
 * `maxNorm` (as `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  return native.clipGradNorm(
    params.map((p) => p.handle),
    maxNorm,
  );
}
