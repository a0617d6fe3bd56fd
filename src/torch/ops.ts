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

/** Squared error of `input` against `target` (broadcast): its mean, sum, or each term. */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  reduction: 'mean' | 'sum' | 'none' = 'mean',
): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reduction));
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

export function minimum(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.minimum(a.handle, typeof b === 'number' ? b : b.handle));
}

export function ne(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.ne(a.handle, typeof b === 'number' ? b : b.handle));
}

export function le(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.le(a.handle, typeof b === 'number' ? b : b.handle));
}

export function ge(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.ge(a.handle, typeof b === 'number' ? b : b.handle));
}

export function logicalNot(t: Tensor): Tensor {
  return new Tensor(native.logicalNot(t.handle));
}

export function tanh(t: Tensor): Tensor {
  return new Tensor(native.tanh(t.handle));
}

export function rsqrt(t: Tensor): Tensor {
  return new Tensor(native.rsqrt(t.handle));
}

export function amin(t: Tensor, dims?: readonly number[], keepdim = false): Tensor {
  return new Tensor(native.amin(t.handle, dims, keepdim));
}

/** Population variance (divisor n) over `dims` (all when omitted). */
export function variance(t: Tensor, dims?: readonly number[], keepdim = false): Tensor {
  return new Tensor(native.variance(t.handle, dims, keepdim));
}

/** `out[i][j][k] = t[i][index[i][j][k]][k]` for dim 1 (and likewise for other dims). */
export function gather(t: Tensor, dim: number, index: Tensor): Tensor {
  return new Tensor(native.gather(t.handle, dim, index.handle));
}

/** `t` with `value` wherever the (broadcast) `mask` is true. */
export function maskedFill(t: Tensor, mask: Tensor, value: number): Tensor {
  return new Tensor(native.maskedFill(t.handle, mask.handle, value));
}

export function squeeze(t: Tensor, dim?: number): Tensor {
  return new Tensor(native.squeeze(t.handle, dim));
}

export function expand(t: Tensor, shape: readonly number[]): Tensor {
  return new Tensor(native.expand(t.handle, shape));
}

/**
 * Constant padding; `pads` lists (before, after) pairs starting from the last dimension:
 * `[left, right, top, bottom]` for images.
 */
export function pad(t: Tensor, pads: readonly number[], value = 0): Tensor {
  return new Tensor(native.pad(t.handle, pads, value));
}

/** Values sorted along `dim` (stable) and their int64 indices. */
export function sort(
  t: Tensor,
  options: { dim?: number; descending?: boolean } = {},
): { values: Tensor; indices: Tensor } {
  const [values, indices] = native.sort(t.handle, options.dim ?? -1, options.descending ?? false);
  return { values: new Tensor(values), indices: new Tensor(indices) };
}

/** Options of `convTranspose2d`; stride 1, padding 0, output padding 0 by default. */
export interface ConvTranspose2dOptions {
  stride?: number;
  padding?: number;
  outputPadding?: number;
}

/** Transposed convolution: input `[batch, in, h, w]`, weight `[in, out, kh, kw]`. */
export function convTranspose2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const s = options.stride ?? 1;
  const p = options.padding ?? 0;
  const o = options.outputPadding ?? 0;
  return new Tensor(
    native.convTranspose2d(input.handle, weight.handle, bias?.handle, [s, s], [p, p], [o, o]),
  );
}

/** Layer normalisation over the trailing `normalizedShape` dimensions. */
export function layerNorm(
  input: Tensor,
  normalizedShape: readonly number[],
  options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return new Tensor(
    native.layerNorm(
      input.handle,
      normalizedShape,
      options.weight?.handle,
      options.bias?.handle,
      options.eps ?? 1e-5,
    ),
  );
}

/** Zeroes each value with probability `p` and scales the rest by 1 / (1 - p) when training. */
export function dropout(input: Tensor, p: number, training = true): Tensor {
  return new Tensor(native.dropout(input.handle, p, training));
}

/** Average pooling `[batch, channels, h, w]` -> `[batch, channels, ...outputSize]`. */
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(input.handle, outputSize));
}

/** Cosine similarity of `a` and `b` (broadcast) along `dim`. */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return new Tensor(native.cosineSimilarity(a.handle, b.handle, dim, eps));
}

/** Pairwise Lp distances `[n, d]` x `[m, d]` -> `[n, m]` (batched for rank 3). */
export function cdist(a: Tensor, b: Tensor, p = 2): Tensor {
  return new Tensor(native.cdist(a.handle, b.handle, p));
}

/** Sampling grid `[batch, h, w, 2]` of affine maps `theta [batch, 2, 3]` for `size`. */
export function affineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  return new Tensor(native.affineGrid(theta.handle, size, alignCorners));
}

/** Samples `input [b, c, h, w]` at `grid [b, oh, ow, 2]` (coordinates in [-1, 1]). */
export function gridSample(
  input: Tensor,
  grid: Tensor,
  options: {
    mode?: 'bilinear' | 'nearest';
    paddingMode?: 'zeros' | 'border' | 'reflection';
    alignCorners?: boolean;
  } = {},
): Tensor {
  return new Tensor(
    native.gridSample(
      input.handle,
      grid.handle,
      options.mode ?? 'bilinear',
      options.paddingMode ?? 'zeros',
      options.alignCorners ?? false,
    ),
  );
}

export function logicalAnd(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.logicalAnd(a.handle, typeof b === 'number' ? b : b.handle));
}

export function logicalOr(a: Tensor, b: Operand): Tensor {
  return new Tensor(native.logicalOr(a.handle, typeof b === 'number' ? b : b.handle));
}

export function argmin(t: Tensor, dim: number, keepdim = false): Tensor {
  return new Tensor(native.argmin(t.handle, dim, keepdim));
}

/** Lp norm over `dims` (all when omitted) of a floating-point tensor. */
export function norm(t: Tensor, p = 2, dims?: readonly number[], keepdim = false): Tensor {
  return new Tensor(native.norm(t.handle, p, dims, keepdim));
}

/**
 * Consecutive pieces of `t` along `dim`: each `sizes` long (the last may be shorter), or of
 * the listed lengths, which must add up to the size of `dim`. The pieces share memory.
 */
export function split(t: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  return native.split(t.handle, sizes, dim).map((h) => new Tensor(h));
}

/** The values of `t` where the (broadcast) bool `mask` is true, as a 1-D tensor. */
export function maskedSelect(t: Tensor, mask: Tensor): Tensor {
  return new Tensor(native.maskedSelect(t.handle, mask.handle));
}

/** Batched matrix product `[batch, n, k]` x `[batch, k, m]` -> `[batch, n, m]`. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.bmm(a.handle, b.handle));
}
