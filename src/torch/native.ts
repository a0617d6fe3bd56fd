/**
 * Loads the libtorch addon (build/Release/duiad.node) and types its bindings. Nothing
 * outside src/torch/ imports this file: use the Tensor API instead.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import { DuiadError } from '../errors.js';

/** Opaque handle to one libtorch tensor; freed by `dispose()` or by the garbage collector. */
export interface TensorHandle {
  dispose(): void;
  readonly disposed: boolean;
}

/** Opaque handle to a seeded libtorch CPU generator. */
export interface GeneratorHandle {
  readonly __generator: unique symbol;
}

/** Element types the engine supports. */
export type DType = 'float32' | 'float64' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** The large-block CPU cache: bytes mapped (live + cached), bytes cached, hits and misses. */
export interface AllocatorStats {
  mappedBytes: number;
  cachedBytes: number;
  hits: number;
  misses: number;
}

/** Memory layouts: row-major (`contiguous`) or channels-last (NHWC order for rank 4). */
export type MemoryFormat = 'contiguous' | 'channelsLast';

/** Typed arrays that can be turned into tensors. */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

type H = TensorHandle;
type Other = H | number;
type Gen = GeneratorHandle | undefined;
type Opt<T> = T | null | undefined;

/** The addon's bindings; each checks its arguments and throws TypeError or RangeError. */
export interface NativeBindings {
  GeneratorHandle: new (seed: number) => GeneratorHandle;
  fromArray(data: TensorData, shape: readonly number[]): H;
  toArray(t: H): TensorData;
  item(t: H): number;
  shape(t: H): number[];
  dtype(t: H): DType;
  toDtype(t: H, dtype: DType): H;
  numel(t: H): number;
  zeros(shape: readonly number[], dtype?: DType): H;
  ones(shape: readonly number[], dtype?: DType): H;
  full(shape: readonly number[], value: number, dtype?: DType): H;
  arange(end: number): H;
  eye(n: number): H;
  randn(shape: readonly number[], generator?: Gen): H;
  rand(shape: readonly number[], generator?: Gen): H;
  randint(low: number, high: number, shape: readonly number[], generator?: Gen): H;
  randperm(n: number, generator?: Gen): H;
  manualSeed(seed: number): void;
  uniform_(t: H, low: number, high: number, generator?: Gen): void;
  normal_(t: H, mean: number, std: number, generator?: Gen): void;
  copy_(destination: H, source: H): void;
  fill_(t: H, value: number): void;
  clone(t: H): H;
  detach(t: H): H;
  contiguous(t: H, format?: MemoryFormat): H;
  isChannelsLast(t: H): boolean;
  setMemoryFormat_(t: H, format: MemoryFormat): void;
  device(t: H): string;
  cudaAvailable(): boolean;
  toDevice(t: H, device: string): H;
  setDevice_(t: H, device: string): void;
  setAutocast(enabled: boolean): void;
  isAutocast(): boolean;
  setRequiresGrad(t: H, flag: boolean): void;
  requiresGrad(t: H): boolean;
  grad(t: H): H | null;
  zeroGrad(tensors: readonly H[]): void;
  backward(t: H, gradient?: H): void;
  setGradEnabled(enabled: boolean): void;
  isGradEnabled(): boolean;
  setNumThreads(threads: number): void;
  getNumThreads(): number;
  liveTensors(): number;
  allocatorStats(): AllocatorStats;
  emptyCache(): void;
  version(): string;
  dispose(t: H): void;

  add(a: H, b: Other): H;
  sub(a: H, b: Other): H;
  mul(a: H, b: Other): H;
  div(a: H, b: Other): H;
  pow(a: H, b: Other): H;
  maximum(a: H, b: Other): H;
  minimum(a: H, b: Other): H;
  eq(a: H, b: Other): H;
  ne(a: H, b: Other): H;
  lt(a: H, b: Other): H;
  le(a: H, b: Other): H;
  gt(a: H, b: Other): H;
  ge(a: H, b: Other): H;
  neg(a: H): H;
  exp(a: H): H;
  log(a: H): H;
  sqrt(a: H): H;
  rsqrt(a: H): H;
  abs(a: H): H;
  relu(a: H): H;
  sigmoid(a: H): H;
  tanh(a: H): H;
  sin(a: H): H;
  cos(a: H): H;
  floor(a: H): H;
  ceil(a: H): H;
  round(a: H): H;
  sign(a: H): H;
  logicalNot(a: H): H;
  isfinite(a: H): H;
  clamp(a: H, min?: Opt<number>, max?: Opt<number>): H;
  logdet(a: H): H;
  sum(a: H, dims?: readonly number[], keepdim?: boolean): H;
  mean(a: H, dims?: readonly number[], keepdim?: boolean): H;
  amax(a: H, dims?: readonly number[], keepdim?: boolean): H;
  amin(a: H, dims?: readonly number[], keepdim?: boolean): H;
  logsumexp(a: H, dims?: readonly number[], keepdim?: boolean): H;
  variance(a: H, dims?: readonly number[], keepdim?: boolean): H;
  argmax(a: H, dim: number, keepdim?: boolean): H;
  reshape(a: H, shape: readonly number[]): H;
  permute(a: H, dims: readonly number[]): H;
  transpose(a: H, dim0: number, dim1: number): H;
  flatten(a: H, startDim?: number, endDim?: number): H;
  unsqueeze(a: H, dim: number): H;
  squeeze(a: H, dim?: number): H;
  expand(a: H, shape: readonly number[]): H;
  cat(tensors: readonly H[], dim?: number): H;
  stack(tensors: readonly H[], dim?: number): H;
  narrow(a: H, dim: number, start: number, length: number): H;
  indexSelect(a: H, dim: number, index: H): H;
  gather(a: H, dim: number, index: H): H;
  where(condition: H, a: H, b: H): H;
  maskedFill(a: H, mask: H, value: number): H;
  flip(a: H, dims: readonly number[]): H;
  rot90(a: H, k: number, dims?: readonly number[]): H;
  matmul(a: H, b: H): H;
  topk(a: H, k: number, dim?: number, largest?: boolean): [H, H];
  sort(a: H, dim?: number, descending?: boolean): [H, H];
  logicalAnd(a: H, b: Other): H;
  logicalOr(a: H, b: Other): H;
  argmin(a: H, dim: number, keepdim?: boolean): H;
  norm(a: H, p: number, dims?: readonly number[], keepdim?: boolean): H;
  split(a: H, sizes: number | readonly number[], dim?: number): H[];
  maskedSelect(a: H, mask: H): H;
  bmm(a: H, b: H): H;

  conv2d(
    input: H,
    weight: H,
    bias: Opt<H>,
    stride: readonly number[],
    padding: readonly number[],
    dilation?: readonly number[],
    groups?: number,
  ): H;
  convTranspose2d(
    input: H,
    weight: H,
    bias: Opt<H>,
    stride: readonly number[],
    padding: readonly number[],
    outputPadding?: readonly number[],
  ): H;
  batchNorm(
    input: H,
    weight: Opt<H>,
    bias: Opt<H>,
    runningMean: Opt<H>,
    runningVar: Opt<H>,
    training: boolean,
    momentum: number,
    eps: number,
  ): H;
  layerNorm(input: H, shape: readonly number[], weight?: Opt<H>, bias?: Opt<H>, eps?: number): H;
  dropout(input: H, p: number, training: boolean): H;
  maxPool2d(
    input: H,
    kernel: readonly number[],
    stride?: readonly number[],
    padding?: readonly number[],
  ): H;
  avgPool2d(
    input: H,
    kernel: readonly number[],
    stride?: readonly number[],
    padding?: readonly number[],
  ): H;
  adaptiveAvgPool2d(input: H, outputSize: readonly number[]): H;
  linear(input: H, weight: H, bias?: Opt<H>): H;
  softmax(input: H, dim?: number): H;
  logSoftmax(input: H, dim?: number): H;
  crossEntropy(logits: H, targets: H, labelSmoothing?: number): H;
  mseLoss(input: H, target: H, reduction?: 'mean' | 'sum' | 'none'): H;
  normalize(input: H, p?: number, dim?: number, eps?: number): H;
  cosineSimilarity(a: H, b: H, dim?: number, eps?: number): H;
  cdist(a: H, b: H, p?: number): H;
  interpolate(
    input: H,
    size: readonly number[],
    mode?: 'bilinear' | 'nearest',
    alignCorners?: boolean,
  ): H;
  affineGrid(theta: H, size: readonly number[], alignCorners?: boolean): H;
  gridSample(
    input: H,
    grid: H,
    mode?: 'bilinear' | 'nearest',
    paddingMode?: 'zeros' | 'border' | 'reflection',
    alignCorners?: boolean,
  ): H;
  pad(input: H, pads: readonly number[], value?: number): H;

  sgdStep(
    params: readonly H[],
    momentumBuffers: readonly H[],
    lr: number,
    momentum: number,
    weightDecay: number,
    nesterov: boolean,
    firstStep: boolean,
  ): void;
  adamwStep(
    params: readonly H[],
    expAvg: readonly H[],
    expAvgSq: readonly H[],
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  clipGradNorm(params: readonly H[], maxNorm: number): number;
}

/** Raised when the addon is missing or fails to load (not built, libtorch not installed). */
export class EngineLoadError extends DuiadError {
  constructor(message: string, cause: unknown) {
    super('E_NATIVE', message, { cause });
  }
}

function load(): NativeBindings {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const path = join(root, 'build', 'Release', 'duiad.node');
  if (!existsSync(path)) {
    throw new EngineLoadError(
      `engine: ${path} is missing; build it with 'npm run build:native' (needs libtorch-dev)`,
      undefined,
    );
  }
  try {
    return createRequire(import.meta.url)(path) as NativeBindings;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new EngineLoadError(`engine: cannot load ${path}: ${reason}`, error);
  }
}

/** The loaded bindings. */
export const native: NativeBindings = load();
