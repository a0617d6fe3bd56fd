/**
 * The Tensor type and memory scopes. A Tensor owns one libtorch tensor; `dispose()` frees it
 * at once, and `tidy(fn)` frees every tensor created inside `fn` except those it returns.
 * The garbage collector frees forgotten tensors too, but only as a backstop.
 */
import {
  native,
  type AllocatorStats,
  type DType,
  type TensorData,
  type TensorHandle,
} from './native.js';

export type { AllocatorStats, DType, TensorData } from './native.js';

/** A number or a Tensor, for binary ops that broadcast. */
export type Operand = Tensor | number;

/** Scopes: each holds the tensors created while it is the innermost one. */
const scopes: Tensor[][] = [];

/** An n-dimensional array held by libtorch. Ops return new Tensors; inputs are untouched. */
export class Tensor {
  /** The addon handle; only src/torch/ uses it. */
  readonly handle: TensorHandle;
  #shape: readonly number[] | undefined;

  /** Wraps a handle returned by the addon and registers it with the innermost scope. */
  constructor(handle: TensorHandle) {
    this.handle = handle;
    scopes[scopes.length - 1]?.push(this);
  }

  /** Sizes of each dimension, e.g. `[batch, channels, height, width]`. */
  get shape(): readonly number[] {
    if (this.handle.disposed) throw new TypeError(`Tensor: shape of a disposed Tensor`);
    this.#shape ??= native.shape(this.handle);
    return this.#shape;
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get dtype(): DType {
    return native.dtype(this.handle);
  }

  /** Where the values live: `cpu`, or `cuda:N` with a CUDA build of libtorch. */
  get device(): string {
    return native.device(this.handle);
  }

  /** True when a rank-4 tensor is laid out channels-last (NHWC order in memory). */
  get isChannelsLast(): boolean {
    return native.isChannelsLast(this.handle);
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  /** Gradient accumulated by `backward()`, or null; it shares memory with libtorch's. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }

  /** Frees the memory now; later use of this Tensor throws a TypeError. */
  dispose(): void {
    this.handle.dispose();
  }

  /** Marks this leaf tensor as a parameter whose gradient autograd should compute. */
  setRequiresGrad(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }

  backward(gradient?: Tensor): void {
    native.backward(this.handle, gradient?.handle);
  }

  /** A copy of the values in row-major order, typed by dtype. */
  data(): TensorData {
    return native.toArray(this.handle);
  }

  /** The values as float32, in row-major order. */
  toFloat32(): Float32Array {
    const d = this.dtype === 'float32' ? this.data() : native.toArray(this.to('float32').handle);
    return d as Float32Array;
  }

  item(): number {
    return native.item(this.handle);
  }

  to(dtype: DType): Tensor {
    return new Tensor(native.toDtype(this.handle, dtype));
  }

  /** A copy on `device` (`cpu`, `cuda`, `cuda:N`); throws a RangeError if it is unavailable. */
  toDevice(device: string): Tensor {
    return new Tensor(native.toDevice(this.handle, device));
  }

  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }

  detach(): Tensor {
    return new Tensor(native.detach(this.handle));
  }

  add(other: Operand): Tensor {
    return new Tensor(native.add(this.handle, operand(other)));
  }

  sub(other: Operand): Tensor {
    return new Tensor(native.sub(this.handle, operand(other)));
  }

  mul(other: Operand): Tensor {
    return new Tensor(native.mul(this.handle, operand(other)));
  }

  div(other: Operand): Tensor {
    return new Tensor(native.div(this.handle, operand(other)));
  }

  pow(other: Operand): Tensor {
    return new Tensor(native.pow(this.handle, operand(other)));
  }

  /** Elementwise `this < other` as a bool tensor. */
  lt(other: Operand): Tensor {
    return new Tensor(native.lt(this.handle, operand(other)));
  }

  /** Elementwise `this > other` as a bool tensor. */
  gt(other: Operand): Tensor {
    return new Tensor(native.gt(this.handle, operand(other)));
  }

  abs(): Tensor {
    return new Tensor(native.abs(this.handle));
  }

  neg(): Tensor {
    return new Tensor(native.neg(this.handle));
  }

  exp(): Tensor {
    return new Tensor(native.exp(this.handle));
  }

  log(): Tensor {
    return new Tensor(native.log(this.handle));
  }

  sqrt(): Tensor {
    return new Tensor(native.sqrt(this.handle));
  }

  relu(): Tensor {
    return new Tensor(native.relu(this.handle));
  }

  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(native.clamp(this.handle, min, max));
  }

  /** Sum over `dims` (all when omitted). */
  sum(dims?: readonly number[], keepdim = false): Tensor {
    return new Tensor(native.sum(this.handle, dims, keepdim));
  }

  /** Mean over `dims` (all when omitted). */
  mean(dims?: readonly number[], keepdim = false): Tensor {
    return new Tensor(native.mean(this.handle, dims, keepdim));
  }

  reshape(shape: readonly number[]): Tensor {
    return new Tensor(native.reshape(this.handle, shape));
  }

  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native.transpose(this.handle, dim0, dim1));
  }

  permute(dims: readonly number[]): Tensor {
    return new Tensor(native.permute(this.handle, dims));
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this.handle, startDim, endDim));
  }

  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.handle, dim));
  }

  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.handle, other.handle));
  }

  /** Rows `start .. start + length - 1` along `dim`, sharing memory. */
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(native.narrow(this.handle, dim, start, length));
  }

  toString(): string {
    return `Tensor(${this.dtype} [${this.shape.join(', ')}])`;
  }
}

function operand(x: Operand): TensorHandle | number {
  return typeof x === 'number' ? x : x.handle;
}

/** Something `tidy` can return: Tensors, possibly inside arrays and plain objects. */
export type Tidyable = unknown;

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) out.add(value);
  else if (depth < 4 && Array.isArray(value)) value.forEach((v) => collect(v, out, depth + 1));
  else if (depth < 4 && value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and frees every Tensor created inside it except those in its result (found in
 * arrays and plain objects too), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    // Nothing made inside a failed scope can be returned: free all of it.
    for (const t of scopes.pop() ?? []) t.dispose();
    throw error;
  }
  const created = scopes.pop() ?? [];
  if (result instanceof Promise) {
    for (const t of created) t.dispose();
    throw new TypeError('tidy: fn must not be async');
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of created) {
    if (kept.has(t)) scopes[scopes.length - 1]?.push(t);
    else t.dispose();
  }
  return result;
}

/** Removes `t` from every open scope, so that `tidy` will not free it; returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) {
    const at = scope.indexOf(t);
    if (at >= 0) scope.splice(at, 1);
  }
  return t;
}

/** Frees every Tensor in `values` (arrays and plain objects are searched). */
export function dispose(values: unknown): void {
  const found = new Set<Tensor>();
  collect(values, found);
  for (const t of found) t.dispose();
}

/** Number of live libtorch tensors held by JavaScript handles (for leak checks). */
export function liveTensors(): number {
  return native.liveTensors();
}

/**
 * Statistics of the engine's cache of large CPU blocks (256 KiB and more): freed activation
 * buffers are kept and reused by the next request of the same size, so that a training loop
 * neither maps fresh memory every step nor fragments the heap. `DUIAD_CPU_CACHE_MB` (default
 * 4096) caps the cached bytes.
 */
export function allocatorStats(): AllocatorStats {
  return native.allocatorStats();
}

/** Returns every cached (free) large block to the system. */
export function emptyCache(): void {
  native.emptyCache();
}

/** Runs `fn` with autograd recording off (inference, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}
