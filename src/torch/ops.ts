/**
 * Functional ops over Tensors: creation, random numbers, math, shapes and neural-network
 * layers. Image tensors are `[batch, channels, height, width]` (NCHW) unless noted.
 */
import { ShapeError } from '../errors.js';
import {
  native,
  type DType,
  type GeneratorHandle,
  type MemoryFormat,
  type TensorData,
} from './native.js';
import { Tensor, type Operand } from './tensor.js';

type Pair = readonly [number, number];

/** A seeded random-number generator; the same seed gives the same numbers. */
export class Generator {
  readonly handle: GeneratorHandle;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
    this.handle = new native.GeneratorHandle(seed);
  }
}

/** A Tensor holding a copy of `data` with `shape`; the dtype follows the array type. */
export function tensor(data: TensorData, shape: readonly number[]): Tensor {
  return new Tensor(native.fromArray(data, shape));
}

export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return new Tensor(native.zeros(shape, dtype));
}

export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return new Tensor(native.ones(shape, dtype));
}

export function full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  return new Tensor(native.full(shape, value, dtype));
}

/** int64 values 0 .. end - 1. */
export function arange(end: number): Tensor {
  return new Tensor(native.arange(end));
}

/** float32 identity matrix [n, n]. */
export function eye(n: number): Tensor {
  return new Tensor(native.eye(n));
}

/** Standard normal float32 values. */
export function randn(shape: readonly number[], generator?: Generator): Tensor {
  return new Tensor(native.randn(shape, generator?.handle));
}

/** Uniform float32 values in [0, 1). */
export function rand(shape: readonly number[], generator?: Generator): Tensor {
  return new Tensor(native.rand(shape, generator?.handle));
}

/** Uniform int64 integers in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  generator?: Generator,
): Tensor {
  return new Tensor(native.randint(low, high, shape, generator?.handle));
}

/** A random permutation of 0 .. n - 1 (int64). */
export function randperm(n: number, generator?: Generator): Tensor {
  return new Tensor(native.randperm(n, generator?.handle));
}

export function uniformInit(t: Tensor, low: number, high: number, generator?: Generator): void {
  native.uniform_(t.handle, low, high, generator?.handle);
}

export function normalInit(t: Tensor, mean: number, std: number, generator?: Generator): void {
  native.normal_(t.handle, mean, std, generator?.handle);
}

/** Copies `source` (broadcast) into `destination` in place, outside autograd. */
export function assign(destination: Tensor, source: Tensor): void {
  native.copy_(destination.handle, source.handle);
}

export function fill(t: Tensor, value: number): void {
  native.fill_(t.handle, value);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}

export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(condition.handle, a.handle, b.handle));
}

export function maximum(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.maximum(a.handle, typeof b === 'number' ? b : b.handle));
}

export function indexSelect(t: Tensor, dim: number, index: Tensor): Tensor {
  return new Tensor(native.indexSelect(t.handle, dim, index.handle));
}

export function flip(t: Tensor, dims: readonly number[]): Tensor {
  return new Tensor(native.flip(t.handle, dims));
}

export function rot90(t: Tensor, k: number, dims: Pair = [-2, -1]): Tensor {
  return new Tensor(native.rot90(t.handle, k, dims));
}

/** The k largest (or smallest) values along `dim`, sorted, and their int64 indices. */
export function topk(
  t: Tensor,
  k: number,
  options: { dim?: number; largest?: boolean } = {},
): { values: Tensor; indices: Tensor } {
  const [values, indices] = native.topk(t.handle, k, options.dim ?? -1, options.largest ?? true);
  return { values: new Tensor(values), indices: new Tensor(indices) };
}

export function argmax(t: Tensor, dim: number, keepdim = false): Tensor {
  return new Tensor(native.argmax(t.handle, dim, keepdim));
}

export function amax(t: Tensor, dims?: readonly number[], keepdim = false): Tensor {
  return new Tensor(native.amax(t.handle, dims, keepdim));
}

export function logsumexp(t: Tensor, dims?: readonly number[], keepdim = false): Tensor {
  return new Tensor(native.logsumexp(t.handle, dims, keepdim));
}

/** Log-determinant of square matrices `[..., n, n]`. */
export function logdet(t: Tensor): Tensor {
  return new Tensor(native.logdet(t.handle));
}

export function sigmoid(t: Tensor): Tensor {
  return new Tensor(native.sigmoid(t.handle));
}

export function eq(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.eq(a.handle, typeof b === 'number' ? b : b.handle));
}

/** Options of `conv2d`; stride 1, padding 0, dilation 1, one group by default. */
export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/**
 * 2-D convolution: input `[batch, in, height, width]`, weight `[out, in / groups, kh, kw]`,
 * optional bias `[out]`.
 */
export function conv2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
): Tensor {
  const s = options.stride ?? 1;
  const p = options.padding ?? 0;
  const d = options.dilation ?? 1;
  return new Tensor(
    native.conv2d(
      input.handle,
      weight.handle,
      bias?.handle,
      [s, s],
      [p, p],
      [d, d],
      options.groups ?? 1,
    ),
  );
}

/** Options of `batchNorm`. */
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over dim 1; in training mode the running statistics update in place. */
export function batchNorm(input: Tensor, options: BatchNormOptions): Tensor {
  return new Tensor(
    native.batchNorm(
      input.handle,
      options.weight?.handle,
      options.bias?.handle,
      options.runningMean?.handle,
      options.runningVar?.handle,
      options.training,
      options.momentum ?? 0.1,
      options.eps ?? 1e-5,
    ),
  );
}

/** `input [..., in] @ weight [out, in]^T + bias [out]`. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return new Tensor(native.linear(input.handle, weight.handle, bias?.handle));
}

export function maxPool2d(input: Tensor, kernel: number, stride = kernel, padding = 0): Tensor {
  return new Tensor(
    native.maxPool2d(input.handle, [kernel, kernel], [stride, stride], [padding, padding]),
  );
}

export function avgPool2d(input: Tensor, kernel: number, stride = kernel, padding = 0): Tensor {
  return new Tensor(
    native.avgPool2d(input.handle, [kernel, kernel], [stride, stride], [padding, padding]),
  );
}

/** Global average pooling `[batch, channels, height, width]` -> `[batch, channels]`. */
export function globalAvgPool(input: Tensor): Tensor {
  if (input.rank !== 4) {
    throw new ShapeError(
      `globalAvgPool: expected [batch, channels, height, width], got [${input.shape.join(', ')}]`,
    );
  }
  return input.mean([2, 3]);
}

export function softmax(input: Tensor, dim = -1): Tensor {
  return new Tensor(native.softmax(input.handle, dim));
}

export function logSoftmax(input: Tensor, dim = -1): Tensor {
  return new Tensor(native.logSoftmax(input.handle, dim));
}

/** Mean cross-entropy of `logits [batch, classes]` against int64 `targets [batch]`. */
export function crossEntropy(logits: Tensor, targets: Tensor, labelSmoothing = 0): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, targets.handle, labelSmoothing));
}

export function mseLoss(input: Tensor, target: Tensor): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle));
}

/** Divides by the Lp norm along `dim` (default: L2 over dim 1), clamped below by `eps`. */
export function normalize(
  input: Tensor,
  options: { p?: number; dim?: number; eps?: number } = {},
): Tensor {
  return new Tensor(
    native.normalize(input.handle, options.p ?? 2, options.dim ?? 1, options.eps ?? 1e-12),
  );
}

/** Samples `input` at the grid of an affine map per image: `theta [batch, 2, 3]`. */
export function affineWarp(
  input: Tensor,
  theta: Tensor,
  options: { paddingMode?: 'zeros' | 'border' | 'reflection' } = {},
): Tensor {
  const grid = new Tensor(native.affineGrid(theta.handle, input.shape, false));
  try {
    return new Tensor(
      native.gridSample(
        input.handle,
        grid.handle,
        'bilinear',
        options.paddingMode ?? 'zeros',
        false,
      ),
    );
  } finally {
    grid.dispose();
  }
}

/** Resizes `[batch, channels, height, width]` images to `size` = [height, width]. */
export function interpolate(
  input: Tensor,
  size: Pair,
  mode: 'bilinear' | 'nearest' = 'bilinear',
): Tensor {
  return new Tensor(native.interpolate(input.handle, size, mode, false));
}

/** The values in row-major (NCHW for images) memory order; shares memory if already so. */
export function contiguous(input: Tensor): Tensor {
  return new Tensor(native.contiguous(input.handle, 'contiguous'));
}

/** Re-lays a 4-D tensor in channels-last memory order (faster convolutions on CPU). */
export function channelsLast(input: Tensor): Tensor {
  return new Tensor(native.contiguous(input.handle, 'channelsLast'));
}

/**
 * Re-lays the leaf tensor `t` in `format` in place: the same Tensor object (and every
 * module or optimiser holding it) then refers to the new layout. Values are unchanged.
 */
export function setMemoryFormat(t: Tensor, format: MemoryFormat): void {
  native.setMemoryFormat_(t.handle, format);
}

/** Moves the leaf tensor `t` to `device` in place (as `setMemoryFormat` does for layouts). */
export function setDevice(t: Tensor, device: string): void {
  native.setDevice_(t.handle, device);
}

/** True when libtorch was built with CUDA and sees a GPU. */
export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}

/**
 * Runs `fn` under CPU automatic mixed precision: convolutions and matrix products compute in
 * bfloat16, numerically sensitive ops stay float32 (as `torch.autocast('cpu')`). Only worth
 * it on CPUs with native bfloat16 arithmetic (avx512_bf16 or AMX).
 */
export function autocast<T>(fn: () => T): T {
  const previous = native.isAutocast();
  native.setAutocast(true);
  try {
    return fn();
  } finally {
    native.setAutocast(previous);
  }
}

/** Sets the number of threads libtorch uses for intra-op parallelism. */
export function setNumThreads(threads: number): void {
  native.setNumThreads(threads);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Seeds libtorch's global generator (dropout and ops without an explicit Generator). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The libtorch version the engine was built against. */
export function engineVersion(): string {
  return native.version();
}
