/**
 * Engine values against numbers worked out by hand; the arithmetic is in the comments.
 * Tolerances: 1e-6 for float32 results of a few operations, 1e-12 for float64.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  SGD,
  type TensorData,
  affineWarp,
  avgPool2d,
  batchNorm,
  cat,
  conv2d,
  crossEntropy,
  indexSelect,
  linear,
  liveTensors,
  logSoftmax,
  maxPool2d,
  normalize,
  ones,
  tensor,
  tidy,
  topk,
  zeros,
} from '../../src/torch/index.js';
import { assertClose, assertTensor, f32, f64, i64, values } from '../helpers/tensors.js';

const a23 = [1, 2, 3, 4, 5, 6]; // [[1, 2, 3], [4, 5, 6]]

test('fromArray/toArray: each dtype round-trips exactly', () => {
  tidy(() => {
    const cases: [TensorData, string, number[]][] = [
      [Float32Array.from([1.5, -2, 0.25, 3e38]), 'float32', [2, 2]],
      [Float64Array.from([Math.PI, -1e-300, 1e300]), 'float64', [3]],
      [Int32Array.from([2147483647, -2147483648, 0, 7, -1, 9]), 'int32', [2, 3]],
      [BigInt64Array.from([9007199254740993n, -1n, -(2n ** 63n)]), 'int64', [3, 1]],
      [Uint8Array.from([0, 255, 128, 1]), 'uint8', [4]],
    ];
    for (const [data, dtype, shape] of cases) {
      const t = tensor(data, shape);
      assert.equal(t.dtype, dtype);
      assert.deepEqual([...t.shape], shape);
      const back = t.data();
      assert.equal(back.constructor, data.constructor, `${dtype}: array type`);
      const plain = (d: TensorData) => Array.from(d as ArrayLike<number | bigint>);
      assert.deepEqual(plain(back), plain(data), dtype);
    }
  });
});

test('fromArray: a typed array view with a byte offset copies only its own elements', () => {
  tidy(() => {
    const buffer = new Float32Array([9, 1, 2, 3, 9]).buffer;
    const t = tensor(new Float32Array(buffer, 4, 3), [3]);
    assert.deepEqual(values(t), [1, 2, 3]);
    // The tensor owns a copy: changing the source afterwards changes nothing.
    new Float32Array(buffer)[1] = 100;
    assert.deepEqual(values(t), [1, 2, 3]);
    const scalar = tensor(Float64Array.from([4.25]), []);
    assert.deepEqual([...scalar.shape], []);
    assert.equal(scalar.item(), 4.25);
    assert.deepEqual([...tensor(new Float32Array(0), [0, 3]).shape], [0, 3]);
  });
});

test('add/mul broadcast as in numpy', () => {
  tidy(() => {
    const a = f32(a23, [2, 3]);
    // [[1,2,3],[4,5,6]] + [10,20,30] = [[11,22,33],[14,25,36]]
    assertTensor(a.add(f32([10, 20, 30], [3])), [2, 3], [11, 22, 33, 14, 25, 36], 0, 'row');
    // [[1,2,3],[4,5,6]] * [[2],[3]] = [[2,4,6],[12,15,18]]
    assertTensor(a.mul(f32([2, 3], [2, 1])), [2, 3], [2, 4, 6, 12, 15, 18], 0, 'column');
    // [[1],[2]] + [[10,20,30]] = [[11,21,31],[12,22,32]]
    const outer = f32([1, 2], [2, 1]).add(f32([10, 20, 30], [1, 3]));
    assertTensor(outer, [2, 3], [11, 21, 31, 12, 22, 32], 0, 'outer');
    // Scalars: a * 0.5 + 1 = [1.5, 2, 2.5, 3, 3.5, 4]
    assertTensor(a.mul(0.5).add(1), [2, 3], [1.5, 2, 2.5, 3, 3.5, 4], 0, 'scalar');
    assert.throws(() => a.add(f32([1, 2], [2])), /add.*\[2, 3\].*\[2\]/);
  });
});

test('sum and mean over dims, with and without keepdim', () => {
  tidy(() => {
    const x = f32(a23, [2, 3]);
    // 1+2+3+4+5+6 = 21; mean 21/6 = 3.5
    assertTensor(x.sum(), [], [21], 0, 'sum');
    assertTensor(x.mean(), [], [3.5], 0, 'mean');
    // Columns: 1+4 = 5, 2+5 = 7, 3+6 = 9; rows: 1+2+3 = 6, 4+5+6 = 15
    assertTensor(x.sum([0]), [3], [5, 7, 9], 0, 'sum dim 0');
    assertTensor(x.sum([1], true), [2, 1], [6, 15], 0, 'sum dim 1 keepdim');
    assertTensor(x.sum([-1]), [2], [6, 15], 0, 'sum dim -1');
    assertTensor(x.sum([0, 1], true), [1, 1], [21], 0, 'sum both keepdim');
    // Row means 6/3 = 2, 15/3 = 5; column means 2.5, 3.5, 4.5
    assertTensor(x.mean([1]), [2], [2, 5], 0, 'mean dim 1');
    assertTensor(x.mean([0], true), [1, 3], [2.5, 3.5, 4.5], 0, 'mean dim 0 keepdim');
  });
});

test('matmul and transpose', () => {
  tidy(() => {
    const a = f32(a23, [2, 3]);
    const b = f32([7, 8, 9, 10, 11, 12], [3, 2]);
    // [1,2,3]·[7,9,11] = 7+18+33 = 58,  [1,2,3]·[8,10,12] = 8+20+36 = 64
    // [4,5,6]·[7,9,11] = 28+45+66 = 139, [4,5,6]·[8,10,12] = 32+50+72 = 154
    assertTensor(a.matmul(b), [2, 2], [58, 64, 139, 154], 0, 'matmul');
    // Matrix times vector [1, 0, -1]: [1-3, 4-6] = [-2, -2]
    assertTensor(a.matmul(f32([1, 0, -1], [3])), [2], [-2, -2], 0, 'matrix-vector');
    // Batched: [2, 2, 3] @ [3, 2] repeats the product per batch entry.
    const batched = cat([a.unsqueeze(0), a.unsqueeze(0)]).matmul(b);
    assertTensor(batched, [2, 2, 2], [58, 64, 139, 154, 58, 64, 139, 154], 0, 'batched');
    // Transpose: [[1,4],[2,5],[3,6]]
    assertTensor(a.transpose(0, 1), [3, 2], [1, 4, 2, 5, 3, 6], 0, 'transpose');
    assertTensor(a.transpose(-1, -2), [3, 2], [1, 4, 2, 5, 3, 6], 0, 'transpose negative');
  });
});

// Input [[1,2,3],[4,5,6],[7,8,9]] and kernel [[1,2],[3,4]] (cross-correlation, no flip):
// out(i,j) = x(i,j)·1 + x(i,j+1)·2 + x(i+1,j)·3 + x(i+1,j+1)·4.
test('conv2d: stride 1, stride 2, padding, bias, two output channels', () => {
  tidy(() => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    // (0,0): 1+4+12+20 = 37, (0,1): 2+6+15+24 = 47, (1,0): 4+10+21+32 = 67, (1,1): 5+12+24+36 = 77
    assertTensor(conv2d(x, w, null), [1, 1, 2, 2], [37, 47, 67, 77], 0, 'plain');
    // Bias 0.5 is added to every output.
    const bias = f32([0.5], [1]);
    assertTensor(conv2d(x, w, bias), [1, 1, 2, 2], [37.5, 47.5, 67.5, 77.5], 0, 'bias');
    // Stride 2 on a 3x3 input: floor((3-2)/2)+1 = 1 output, the top-left 37.
    assertTensor(conv2d(x, w, null, { stride: 2 }), [1, 1, 1, 1], [37], 0, 'stride 2');
    // Padding 1: the 5x5 zero-padded input gives a 4x4 output; row 0 sees only
    // x's first row in its lower half: [0+1·4, 1·3+2·4, 2·3+3·4, 3·3] = [4, 11, 18, 9];
    // row 1: [1·2+4·4, 37, 47, 3·1+6·3] = [18, 37, 47, 21];
    // row 2: [4·2+7·4, 67, 77, 6·1+9·3] = [36, 67, 77, 33];
    // row 3: [7·2, 7·1+8·2, 8·1+9·2, 9·1] = [14, 23, 26, 9].
    const padded = [4, 11, 18, 9, 18, 37, 47, 21, 36, 67, 77, 33, 14, 23, 26, 9];
    assertTensor(conv2d(x, w, null, { padding: 1 }), [1, 1, 4, 4], padded, 0, 'padding 1');
    // Stride 2 and padding 1: rows and columns 0 and 2 of the above.
    const s2p1 = conv2d(x, w, null, { stride: 2, padding: 1 });
    assertTensor(s2p1, [1, 1, 2, 2], [4, 18, 36, 77], 0, 'stride 2 padding 1');
    // A second output channel with kernel [[0,0],[0,1]] picks x(i+1,j+1): [5,6,8,9], minus 1.
    const w2 = f32([1, 2, 3, 4, 0, 0, 0, 1], [2, 1, 2, 2]);
    const two = conv2d(x, w2, f32([0.5, -1], [2]));
    assertTensor(two, [1, 2, 2, 2], [37.5, 47.5, 67.5, 77.5, 4, 5, 7, 8], 0, 'two channels');
  });
});

// Input [batch 4, channels 2]: channel 0 = [1,2,3,4], channel 1 = [2,4,6,8].
// Channel 0: mean 2.5, biased var ((1.5²+0.5²)·2)/4 = 1.25, unbiased 5/3.
// Channel 1: mean 5, biased var ((3²+1²)·2)/4 = 5, unbiased 20/3.
test('batchNorm: training output and running statistics (momentum 0.1, unbiased var)', () => {
  tidy(() => {
    const x = f32([1, 2, 2, 4, 3, 6, 4, 8], [4, 2]);
    const weight = f32([1, 2], [2]);
    const bias = f32([0, 1], [2]);
    const runningMean = zeros([2]);
    const runningVar = ones([2]);
    const y = batchNorm(x, { weight, bias, runningMean, runningVar, training: true });
    // y = weight·(x − mean)/sqrt(biasedVar + 1e-5) + bias
    const s0 = Math.sqrt(1.25 + 1e-5);
    const s1 = Math.sqrt(5 + 1e-5);
    const expected = [1, 2, 3, 4].flatMap((v) => [(v - 2.5) / s0, (2 * (2 * v - 5)) / s1 + 1]);
    assertTensor(y, [4, 2], expected, 1e-6, 'training output');
    // running = 0.9·running + 0.1·batch: mean [0.25, 0.5], var [0.9 + 0.1·5/3, 0.9 + 0.1·20/3]
    assertClose(values(runningMean), [0.25, 0.5], 1e-7, 'running mean');
    assertClose(values(runningVar), [0.9 + 0.5 / 3, 0.9 + 2 / 3], 1e-6, 'running var');
    // A second step with the same batch: mean 0.9·0.25 + 0.25 = 0.475, 0.9·0.5 + 0.5 = 0.95
    batchNorm(x, { runningMean, runningVar, training: true });
    assertClose(values(runningMean), [0.475, 0.95], 1e-6, 'running mean, step 2');
    const v0 = 0.9 * (0.9 + 0.5 / 3) + 0.5 / 3;
    const v1 = 0.9 * (0.9 + 2 / 3) + 2 / 3;
    assertClose(values(runningVar), [v0, v1], 1e-6, 'running var, step 2');
  });
});

test('batchNorm: evaluation mode uses the running statistics and leaves them alone', () => {
  tidy(() => {
    const x = f32([1, 2, 2, 4, 3, 6, 4, 8], [4, 2]);
    // Running mean [1, 2] and var [4, 0.25]: y = γ·(x − m)/sqrt(v + 1e-5) + β, γ = [1, 2], β = [0, 1]
    const runningMean = f32([1, 2], [2]);
    const runningVar = f32([4, 0.25], [2]);
    const y = batchNorm(x, {
      weight: f32([1, 2], [2]),
      bias: f32([0, 1], [2]),
      runningMean,
      runningVar,
      training: false,
    });
    const s0 = Math.sqrt(4 + 1e-5);
    const s1 = Math.sqrt(0.25 + 1e-5);
    const expected = [1, 2, 3, 4].flatMap((v) => [(v - 1) / s0, (2 * (2 * v - 2)) / s1 + 1]);
    assertTensor(y, [4, 2], expected, 1e-5, 'eval output');
    assert.deepEqual(values(runningMean), [1, 2]);
    assert.deepEqual(values(runningVar), [4, 0.25]);
    // A 4-D input [batch 1, channels 2, 1, 2] normalises each channel over its 2 pixels.
    const img = batchNorm(f32([0, 2, 10, 30], [1, 2, 1, 2]), { training: true });
    // Channel 0: mean 1, var 1 -> [-1, 1]/sqrt(1+1e-5); channel 1: mean 20, var 100.
    const e = [-1, 1].map((v) => v / Math.sqrt(1 + 1e-5));
    const e2 = [-10, 10].map((v) => v / Math.sqrt(100 + 1e-5));
    assertTensor(img, [1, 2, 1, 2], [...e, ...e2], 1e-6, '4-D');
  });
});

test('relu, maxPool2d and avgPool2d', () => {
  tidy(() => {
    assertTensor(f32([-1, 0, 2.5, -0.001], [4]).relu(), [4], [0, 0, 2.5, 0], 0, 'relu');
    // x = 1..16 in a 4x4 image:
    //  1  2  3  4
    //  5  6  7  8
    //  9 10 11 12
    // 13 14 15 16
    const x = f32(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 1, 4, 4],
    );
    assertTensor(maxPool2d(x, 2), [1, 1, 2, 2], [6, 8, 14, 16], 0, 'max 2x2');
    assertTensor(maxPool2d(x, 3, 1), [1, 1, 2, 2], [11, 12, 15, 16], 0, 'max 3x3 stride 1');
    // (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5, (9+10+13+14)/4 = 11.5, (11+12+15+16)/4 = 13.5
    assertTensor(avgPool2d(x, 2), [1, 1, 2, 2], [3.5, 5.5, 11.5, 13.5], 0, 'avg 2x2');
    // Padding 1, stride 2: 3x3 windows over rows/cols {-1,0}, {1,2}, {3,4}; the zero padding
    // counts in the divisor 4: 1/4, (2+3)/4, 4/4; (5+9)/4, (6+7+10+11)/4, (8+12)/4;
    // 13/4, (14+15)/4, 16/4.
    const padded = [0.25, 1.25, 1, 3.5, 8.5, 5, 3.25, 7.25, 4];
    assertTensor(avgPool2d(x, 2, 2, 1), [1, 1, 3, 3], padded, 0, 'avg padded');
  });
});

test('linear: x·Wᵀ + b', () => {
  tidy(() => {
    const x = f32(a23, [2, 3]);
    const w = f32([1, 0, -1, 0.5, 0.5, 0.5], [2, 3]);
    // [1,2,3]: 1−3+10 = 8, 0.5·6−1 = 2; [4,5,6]: 4−6+10 = 8, 0.5·15−1 = 6.5
    assertTensor(linear(x, w, f32([10, -1], [2])), [2, 2], [8, 2, 8, 6.5], 0, 'with bias');
    assertTensor(linear(x, w), [2, 2], [-2, 3, -2, 7.5], 0, 'without bias');
  });
});

// Row [1,2,3]: logsumexp = 3 + log(1 + e⁻¹ + e⁻²) = 3 + log(1.5032147244080551)
// = 3.4076059644443806, so log-softmax = [1,2,3] − 3.4076059644443806.
// Row [0,0,0]: log(1/3) = −1.0986122886681096 each.
test('logSoftmax and crossEntropy', () => {
  tidy(() => {
    const logits = f64([1, 2, 3, 0, 0, 0], [2, 3]);
    const lse = 3.4076059644443806;
    const log3 = 1.0986122886681096;
    const expected = [1 - lse, 2 - lse, 3 - lse, -log3, -log3, -log3];
    assertTensor(logSoftmax(logits), [2, 3], expected, 1e-12, 'logSoftmax');
    // Along dim 0, column j holds (j + 1, 0), whose logsumexp is log(e^(j+1) + 1).
    const columnLse = [1, 2, 3].map((v) => Math.log(Math.exp(v) + 1));
    const byColumn = [1, 2, 3, 0, 0, 0].map((v, i) => v - (columnLse[i % 3] as number));
    assertTensor(logSoftmax(logits, 0), [2, 3], byColumn, 1e-12, 'logSoftmax dim 0');
    // Targets [2, 0]: losses 3 − lse·(−1) = 0.4076059644443804 and log 3; mean 0.7531091265562451
    const targets = i64([2, 0], [2]);
    assertClose([crossEntropy(logits, targets).item()], [0.7531091265562451], 1e-12, 'CE');
    // Label smoothing 0.1: row 1 = 0.9·0.40760596 + 0.1·mean(2.40760596, 1.40760596,
    // 0.40760596) = 0.36684537 + 0.14076060 = 0.50760596; row 2 = log 3; mean 0.80310913
    const smooth = crossEntropy(logits, targets, 0.1).item();
    assertClose([smooth], [0.8031091265562451], 1e-12, 'CE smoothed');
  });
});

test('normalize: L2 and L1 along a dim, zero rows stay zero', () => {
  tidy(() => {
    // [3,4]/5 = [0.6, 0.8]; [0,0]/max(0, 1e-12) = [0, 0]; [1,0] stays
    const x = f64([3, 4, 0, 0, 1, 0], [3, 2]);
    assertTensor(normalize(x), [3, 2], [0.6, 0.8, 0, 0, 1, 0], 1e-15, 'L2 dim 1');
    // L1: [3,4]/7
    assertTensor(normalize(x, { p: 1 }), [3, 2], [3 / 7, 4 / 7, 0, 0, 1, 0], 1e-15, 'L1');
    // Along dim 0: column 0 = [3,0,1]/sqrt(10), column 1 = [4,0,0]/4
    const r10 = Math.sqrt(10);
    const col = [3 / r10, 1, 0, 0, 1 / r10, 0];
    assertTensor(normalize(x, { dim: 0 }), [3, 2], col, 1e-15, 'L2 dim 0');
  });
});

test('topk: largest, smallest and along dim 0', () => {
  tidy(() => {
    const x = f32([3, 1, 4, 1, 5, 9, 2, 6], [8]);
    const top = topk(x, 3);
    assertTensor(top.values, [3], [9, 6, 5], 0, 'values');
    assertTensor(top.indices, [3], [5, 7, 4], 0, 'indices');
    assert.equal(top.indices.dtype, 'int64');
    const low = topk(x, 2, { largest: false });
    assertTensor(low.values, [2], [1, 1], 0, 'smallest values');
    assert.deepEqual(values(low.indices).sort(), [1, 3], 'the two 1s are at 1 and 3');
    // [[1,5],[3,2],[2,4]]: the column maxima are 3 (row 1) and 5 (row 0).
    const m = topk(f32([1, 5, 3, 2, 2, 4], [3, 2]), 1, { dim: 0 });
    assertTensor(m.values, [1, 2], [3, 5], 0, 'dim 0 values');
    assertTensor(m.indices, [1, 2], [1, 0], 0, 'dim 0 indices');
    assertTensor(topk(x, 0).values, [0], [], 0, 'k = 0');
  });
});

test('cat, narrow and indexSelect', () => {
  tidy(() => {
    const a = f32(a23, [2, 3]);
    const row = f32([7, 8, 9], [1, 3]);
    assertTensor(cat([row, a]), [3, 3], [7, 8, 9, ...a23], 0, 'cat dim 0');
    // Columns appended: [[1,2,3,10],[4,5,6,20]]
    const c = cat([a, f32([10, 20], [2, 1])], 1);
    assertTensor(c, [2, 4], [1, 2, 3, 10, 4, 5, 6, 20], 0, 'cat dim 1');
    assertTensor(a.narrow(1, 1, 2), [2, 2], [2, 3, 5, 6], 0, 'narrow cols 1..2');
    assertTensor(a.narrow(0, 1, 1), [1, 3], [4, 5, 6], 0, 'narrow row 1');
    assertTensor(a.narrow(0, 2, 0), [0, 3], [], 0, 'narrow empty at the end');
    // indexSelect columns [2, 0]: [[3,1],[6,4]]; rows [1, 1, 0]
    assertTensor(indexSelect(a, 1, i64([2, 0], [2])), [2, 2], [3, 1, 6, 4], 0, 'columns');
    const rows = indexSelect(a, 0, tensor(Int32Array.from([1, 1, 0]), [3]));
    assertTensor(rows, [3, 3], [4, 5, 6, 4, 5, 6, 1, 2, 3], 0, 'rows from int32 index');
  });
});

// With align_corners = false, pixel j of width W sits at x = (2j + 1)/W − 1, and an identity
// theta samples exactly at pixel centres; x → −x maps pixel j to W − 1 − j.
test('affineWarp: identity theta returns the input, flips flip, a shift shifts', () => {
  tidy(() => {
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const warp = (theta: number[]) => affineWarp(x, f32(theta, [1, 2, 3]));
    const same = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    assertTensor(warp([1, 0, 0, 0, 1, 0]), [1, 1, 3, 3], same, 1e-6, 'identity');
    const mirror = [3, 2, 1, 6, 5, 4, 9, 8, 7];
    assertTensor(warp([-1, 0, 0, 0, 1, 0]), [1, 1, 3, 3], mirror, 1e-6, 'horizontal flip');
    const upsideDown = [7, 8, 9, 4, 5, 6, 1, 2, 3];
    assertTensor(warp([1, 0, 0, 0, -1, 0]), [1, 1, 3, 3], upsideDown, 1e-6, 'vertical flip');
    // Shifting the sampling grid by 2/W = one pixel reads x(i, j+1); column 3 is outside (0).
    const shifted = [2, 3, 0, 5, 6, 0, 8, 9, 0];
    assertTensor(warp([1, 0, 2 / 3, 0, 1, 0]), [1, 1, 3, 3], shifted, 1e-5, 'shift');
    // Batch of two with their own thetas.
    const xx = cat([x, x.mul(10)]);
    const both = affineWarp(xx, f32([1, 0, 0, 0, 1, 0, -1, 0, 0, 0, 1, 0], [2, 2, 3]));
    const e = [...same, ...mirror.map((v) => v * 10)];
    assertTensor(both, [2, 1, 3, 3], e, 1e-5, 'per-image theta');
  });
});

// PyTorch's SGD (dampening 0, no Nesterov), for gradient g of parameter p:
//   g ← g + wd·p;  buf ← g on the first step, else buf ← m·buf + g;  p ← p − lr·buf.
// Loss 2·p gives g = 2. With p₀ = 1, lr 0.1, m 0.9, wd 0.01:
//   step 1: g = 2 + 0.01·1 = 2.01, buf = 2.01, p = 1 − 0.201 = 0.799
//   step 2: g = 2 + 0.01·0.799 = 2.00799, buf = 0.9·2.01 + 2.00799 = 3.81699,
//           p = 0.799 − 0.381699 = 0.417301
function sgdTwoSteps(make: (v: number) => ReturnType<typeof f32>): number[] {
  return tidy(() => {
    const p = make(1).setRequiresGrad();
    const optimiser = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    const seen: number[] = [];
    for (let step = 0; step < 2; step++) {
      optimiser.zeroGrad();
      tidy(() => p.mul(2).sum().backward());
      optimiser.step();
      seen.push(p.item());
    }
    optimiser.dispose();
    return seen;
  });
}

test('SGD: two steps with momentum and weight decay follow PyTorch (float32)', () => {
  const seen = sgdTwoSteps((v) => f32([v], [1]));
  assertClose(seen, [0.799, 0.417301], 1e-6, 'p after each step');
});

test('SGD: float64 parameters are updated in float64', () => {
  const seen = sgdTwoSteps((v) => f64([v], [1]));
  assertClose(seen, [0.799, 0.417301], 1e-13, 'p after each step');
});

test('SGD: a parameter without a gradient is left alone; lr 0 changes nothing', () => {
  tidy(() => {
    const used = f32([1], [1]).setRequiresGrad();
    const unused = f32([5], [1]).setRequiresGrad();
    const optimiser = new SGD([used, unused], { lr: 0.5, momentum: 0 });
    tidy(() => used.mul(3).sum().backward());
    optimiser.step();
    // p = 1 − 0.5·3 = −0.5
    assert.deepEqual([used.item(), unused.item()], [-0.5, 5]);
    optimiser.lr = 0;
    optimiser.step();
    assert.deepEqual([used.item(), unused.item()], [-0.5, 5]);
    optimiser.dispose();
  });
});

test('values tests leave no tensors behind', () => {
  const before = liveTensors();
  tidy(() => {
    conv2d(f32([1, 2, 3, 4], [1, 1, 2, 2]), f32([1], [1, 1, 1, 1]), null);
    topk(f32([1, 2], [2]), 1);
  });
  assert.equal(liveTensors(), before);
});
