/**
 * Test helpers for engine tests: building small tensors, reading them back as plain numbers,
 * comparing with a tolerance, and a seeded source of test values.
 */

import assert from 'node:assert/strict';
import { type Tensor, tensor } from '../../src/torch/index.js';

/** A float32 tensor of `data` with `shape`. */
export function f32(data: readonly number[], shape: readonly number[]): Tensor {
  return tensor(Float32Array.from(data), shape);
}

/** A float64 tensor of `data` with `shape`. */
export function f64(data: readonly number[], shape: readonly number[]): Tensor {
  return tensor(Float64Array.from(data), shape);
}

/** An int64 tensor of `data` with `shape`. */
export function i64(data: readonly number[], shape: readonly number[]): Tensor {
  return tensor(
    BigInt64Array.from(data, (v) => BigInt(v)),
    shape,
  );
}

/** The values of `t` in row-major order as plain numbers (int64 converted with Number). */
export function values(t: Tensor): number[] {
  const data: ArrayLike<number | bigint> = t.data();
  return Array.from(data, (v) => Number(v));
}

/**
 * Asserts `|actual[i] - expected[i]| <= tolerance` for every i (and equal lengths); the
 * message names `what`, the index and both values.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: readonly number[],
  tolerance: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const ok = Math.abs(a - e) <= tolerance || (Number.isNaN(a) && Number.isNaN(e));
    assert.ok(ok, `${what}[${i}]: got ${a}, expected ${e} (tolerance ${tolerance})`);
  }
}

/** Asserts that `t` has `shape` and values within `tolerance` of `expected`. */
export function assertTensor(
  t: Tensor,
  shape: readonly number[],
  expected: readonly number[],
  tolerance: number,
  what: string,
): void {
  assert.deepEqual([...t.shape], [...shape], `${what}: shape`);
  assertClose(values(t), expected, tolerance, what);
}

/** `count` numbers uniform in [low, high), the same for the same seed (mulberry32). */
export function seededValues(seed: number, count: number, low = -1, high = 1): number[] {
  let state = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(low + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (high - low));
  }
  return out;
}
