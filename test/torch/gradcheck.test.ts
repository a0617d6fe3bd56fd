/**
 * Finite-difference gradient checks in float64: each analytic gradient from `backward()` is
 * compared with central differences (eps 1e-6) of the same scalar loss, within a relative
 * tolerance of 1e-5 (plus 1e-8 absolute for gradients near zero).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { entropyLoss, infoNce } from '../../src/methods/duiad/objective.js';
import {
  type Tensor,
  adaptiveAvgPool2d,
  affineWarp,
  avgPool2d,
  batchNorm,
  bmm,
  cdist,
  convTranspose2d,
  cosineSimilarity,
  gather,
  interpolate,
  layerNorm,
  maskedSelect,
  maxPool2d,
  mseLoss,
  norm,
  pad,
  softmax,
  split,
  conv2d,
  crossEntropy,
  linear,
  liveTensors,
  logSoftmax,
  logdet,
  noGrad,
  normalize,
  ones,
  tidy,
  topk,
  zeros,
} from '../../src/torch/index.js';
import { assertClose, f64, i64, seededValues, values } from '../helpers/tensors.js';

/** One float64 input of a gradient check. */
interface Input {
  data: number[];
  shape: number[];
}

function input(shape: number[], seed: number, low = -1, high = 1): Input {
  const count = shape.reduce((a, b) => a * b, 1);
  return { data: seededValues(seed, count, low, high), shape };
}

const eps = 1e-6;
const rtol = 1e-5;
const atol = 1e-8;

/**
 * Checks d loss / d input for every input of `loss` (a scalar function of float64 tensors)
 * against central differences; returns the analytic gradients.
 */
function gradcheck(name: string, inputs: Input[], loss: (xs: Tensor[]) => Tensor): number[][] {
  const analytic = tidy(() => {
    const xs = inputs.map((i) => f64(i.data, i.shape).setRequiresGrad());
    const out = loss(xs);
    assert.equal(out.size, 1, `${name}: the loss must be a scalar`);
    assert.equal(out.dtype, 'float64', `${name}: the loss must be float64`);
    out.backward();
    return xs.map((x, k) => {
      const g = x.grad;
      assert.ok(g !== null, `${name}: input ${k} got no gradient`);
      return values(g);
    });
  });
  const evaluate = (data: number[][]): number =>
    noGrad(() => tidy(() => loss(data.map((d, k) => f64(d, inputs[k]?.shape ?? []))).item()));
  const base = inputs.map((i) => [...i.data]);
  inputs.forEach((inp, k) => {
    const row = base[k] as number[];
    const grad = analytic[k] as number[];
    for (let e = 0; e < inp.data.length; e++) {
      const x = row[e] as number;
      row[e] = x + eps;
      const up = evaluate(base);
      row[e] = x - eps;
      const down = evaluate(base);
      row[e] = x;
      const numeric = (up - down) / (2 * eps);
      const a = grad[e] as number;
      const bound = atol + rtol * Math.max(Math.abs(a), Math.abs(numeric));
      assert.ok(
        Math.abs(a - numeric) <= bound,
        `${name}: d/d input${k}[${e}]: analytic ${a}, numeric ${numeric}`,
      );
    }
  });
  return analytic;
}

/** Fixed random weights so that a loss sum(out · weights) depends on every output. */
function weighted(out: Tensor, seed: number): Tensor {
  return out.mul(f64(seededValues(seed, out.size), [...out.shape])).sum();
}

test('gradcheck: add, sub, mul, div, pow, exp, log, sqrt composed with broadcasting', () => {
  const a = input([2, 3], 1, 0.5, 1.5);
  const b = input([3], 2, 0.5, 1.5);
  gradcheck('elementwise', [a, b], ([x, y]) => {
    const p = x as Tensor;
    const q = y as Tensor;
    const first = p.add(q).mul(p).div(q).pow(2.5).sum();
    const second = p.sub(q).exp().mul(q.log()).add(p.sqrt()).sum();
    const third = p.pow(q).div(q.sqrt()).mean();
    return first.add(second).add(third);
  });
});

test('gradcheck: matmul', () => {
  gradcheck('matmul', [input([3, 4], 3), input([4, 2], 4)], ([x, y]) =>
    weighted((x as Tensor).matmul(y as Tensor), 5),
  );
});

test('gradcheck: conv2d with stride 2, padding 1 and bias', () => {
  const inputs = [input([2, 2, 5, 5], 6), input([3, 2, 3, 3], 7), input([3], 8)];
  gradcheck('conv2d', inputs, ([x, w, b]) =>
    weighted(conv2d(x as Tensor, w as Tensor, b as Tensor, { stride: 2, padding: 1 }), 9),
  );
});

test('gradcheck: batchNorm in training mode', () => {
  const runningMean = zeros([3], 'float64');
  const runningVar = ones([3], 'float64');
  const inputs = [input([4, 3, 2, 2], 10), input([3], 11, 0.5, 1.5), input([3], 12)];
  gradcheck('batchNorm', inputs, ([x, w, b]) =>
    weighted(
      batchNorm(x as Tensor, {
        weight: w as Tensor,
        bias: b as Tensor,
        runningMean,
        runningVar,
        training: true,
      }),
      13,
    ),
  );
  runningMean.dispose();
  runningVar.dispose();
});

test('gradcheck: linear', () => {
  const inputs = [input([3, 4], 14), input([2, 4], 15), input([2], 16)];
  gradcheck('linear', inputs, ([x, w, b]) =>
    weighted(linear(x as Tensor, w as Tensor, b as Tensor), 17),
  );
});

test('gradcheck: logSoftmax and crossEntropy', () => {
  const targets = i64([0, 3, 1], [3]);
  gradcheck('logSoftmax+crossEntropy', [input([3, 4], 18, -2, 2)], ([x]) => {
    const logits = x as Tensor;
    return crossEntropy(logits, targets).add(weighted(logSoftmax(logits), 19));
  });
  gradcheck('crossEntropy smoothed', [input([3, 4], 20, -2, 2)], ([x]) =>
    crossEntropy(x as Tensor, targets, 0.1),
  );
  targets.dispose();
});

test('gradcheck: normalize (L2 along dim 1 and dim 0)', () => {
  gradcheck('normalize', [input([3, 4], 21)], ([x]) => weighted(normalize(x as Tensor), 22));
  gradcheck('normalize dim 0', [input([3, 4], 23)], ([x]) =>
    weighted(normalize(x as Tensor, { dim: 0 }), 24),
  );
});

// Rotation by 0.3 rad, scale 0.9, shift (0.1, −0.05): sample points fall between pixels.
const theta = [
  0.9 * Math.cos(0.3),
  -0.9 * Math.sin(0.3),
  0.1,
  0.9 * Math.sin(0.3),
  0.9 * Math.cos(0.3),
  -0.05,
];

test('gradcheck: affineWarp (grid sample) with respect to the input and to theta', () => {
  const t = f64(theta, [1, 2, 3]);
  gradcheck('affineWarp input', [input([1, 2, 4, 4], 25)], ([x]) =>
    weighted(affineWarp(x as Tensor, t), 26),
  );
  t.dispose();
  const image = input([1, 1, 4, 4], 27);
  gradcheck('affineWarp theta', [{ data: theta, shape: [1, 2, 3] }], ([th]) =>
    tidy(() => {
      const x = f64(image.data, image.shape);
      return weighted(affineWarp(x, th as Tensor, { paddingMode: 'border' }), 28);
    }),
  );
});

test('gradcheck: mean of topk values', () => {
  const [grad] = gradcheck('topk', [input([3, 5], 29)], ([x]) =>
    topk(x as Tensor, 2, { dim: 1 }).values.mean(),
  );
  // Exactly the 2 largest of each row get 1/(3·2); the others 0.
  const g = grad as number[];
  assert.equal(g.filter((v) => Math.abs(v - 1 / 6) < 1e-15).length, 6);
  assert.equal(g.filter((v) => v === 0).length, 9);
});

test('gradcheck: logdet of a symmetric positive definite matrix', () => {
  // S = A·Aᵀ + 3·I is SPD for any A.
  const a = seededValues(30, 9);
  const s: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let dot = i === j ? 3 : 0;
      for (let k = 0; k < 3; k++) dot += (a[3 * i + k] as number) * (a[3 * j + k] as number);
      s.push(dot);
    }
  }
  const [grad] = gradcheck('logdet', [{ data: s, shape: [3, 3] }], ([x]) => logdet(x as Tensor));
  // d logdet(S)/dS = S⁻ᵀ, so grad·S = I.
  const g = grad as number[];
  const product: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let k = 0; k < 3; k++) dot += (g[3 * i + k] as number) * (s[3 * k + j] as number);
      product.push(dot);
    }
  }
  assertClose(product, [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-12, 'grad · S');
});

test('gradcheck: infoNce', () => {
  gradcheck('infoNce', [input([3, 4], 31), input([3, 4], 32)], ([z1, z2]) =>
    infoNce(z1 as Tensor, z2 as Tensor, 0.5),
  );
});

test('gradcheck: entropyLoss with the vmf, center and gaussian estimators', () => {
  gradcheck('entropy vmf', [input([5, 3], 33)], ([z]) => entropyLoss(z as Tensor, 'vmf'));
  gradcheck('entropy center', [input([5, 3], 34), input([3], 35)], ([z, c]) =>
    entropyLoss(z as Tensor, 'center', c as Tensor),
  );
  gradcheck('entropy gaussian', [input([5, 3], 36)], ([z]) => entropyLoss(z as Tensor, 'gaussian'));
});

/** NT-Xent in plain doubles: mean over the 2·batch codes of −s(i, partner) + log Σ_{j≠i} e^s(i, j). */
function ntXent(z1: number[][], z2: number[][], temperature: number): number {
  const unit = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const z = [...z1, ...z2].map(unit);
  const dot = (p: number[], q: number[]) => p.reduce((s, x, k) => s + x * (q[k] as number), 0);
  const n = z.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const zi = z[i] as number[];
    let denominator = 0;
    for (let j = 0; j < n; j++) {
      if (j !== i) denominator += Math.exp(dot(zi, z[j] as number[]) / temperature);
    }
    const partner = z[(i + z1.length) % n] as number[];
    total += -dot(zi, partner) / temperature + Math.log(denominator);
  }
  return total / n;
}

test('infoNce: values against the NT-Xent formula in plain JavaScript', () => {
  tidy(() => {
    // Identical views e1, e2 at temperature 1: every code sees its partner at cosine 1 and
    // the two others at 0, so each term is −1 + log(e + 1 + 1) = log(2 + e) − 1 ≈ 0.5514.
    const eye2 = [
      [1, 0],
      [0, 1],
    ];
    const same = infoNce(f64([1, 0, 0, 1], [2, 2]), f64([1, 0, 0, 1], [2, 2]), 1).item();
    assertClose([same], [Math.log(2 + Math.E) - 1], 1e-12, 'identical views');
    assertClose([ntXent(eye2, eye2, 1)], [Math.log(2 + Math.E) - 1], 1e-12, 'the JS formula');
    // Unnormalised codes at temperature 0.5.
    const z1 = [
      [3, 4],
      [1, 0],
    ];
    const z2 = [
      [0, 2],
      [-1, 1],
    ];
    const got = infoNce(f64(z1.flat(), [2, 2]), f64(z2.flat(), [2, 2]), 0.5).item();
    assertClose([got], [ntXent(z1, z2, 0.5)], 1e-12, 'batch 2');
    // A larger random case in float64.
    const r1 = seededValues(37, 12);
    const r2 = seededValues(38, 12);
    const rows = (v: number[]) => [0, 1, 2, 3].map((i) => v.slice(3 * i, 3 * i + 3));
    const big = infoNce(f64(r1, [4, 3]), f64(r2, [4, 3]), 0.2).item();
    assertClose([big], [ntXent(rows(r1), rows(r2), 0.2)], 1e-12, 'batch 4');
  });
});

test('entropyLoss: values on two orthogonal codes', () => {
  tidy(() => {
    const z = f64([1, 0, 0, 1], [2, 2]);
    // vmf: mean unit vector [0.5, 0.5] has length sqrt(0.5); loss 1 − sqrt(0.5 + 1e-12).
    const vmf = entropyLoss(z, 'vmf').item();
    assertClose([vmf], [1 - Math.sqrt(0.5 + 1e-12)], 1e-12, 'vmf');
    // center [2, 0]: cosines 1 and 0, mean 0.5, loss 0.5.
    assertClose([entropyLoss(z, 'center', f64([2, 0], [2])).item()], [0.5], 1e-12, 'center');
    // gaussian: centred codes ±[0.5, −0.5], Cov (n − 1 = 1) = [[0.5, −0.5], [−0.5, 0.5]];
    // det(Cov + εI) = (0.5 + ε)² − 0.25 = ε(1 + ε), ε = 1e-4; loss 0.5·log(ε(1 + ε))/2.
    const gaussian = entropyLoss(z, 'gaussian').item();
    assertClose([gaussian], [0.25 * Math.log(1e-4 * (1 + 1e-4))], 1e-6, 'gaussian');
  });
});

test('gradient checks leave no tensors behind', () => {
  const before = liveTensors();
  gradcheck('small', [input([2, 2], 39)], ([x]) => weighted(normalize(x as Tensor), 40));
  assert.equal(liveTensors(), before);
});

test('gradcheck: bmm and transposed convolution (stride 2, output padding 1)', () => {
  gradcheck('bmm', [input([2, 3, 4], 41), input([2, 4, 2], 42)], ([x, y]) =>
    weighted(bmm(x as Tensor, y as Tensor), 43),
  );
  const inputs = [input([1, 2, 3, 3], 44), input([2, 3, 3, 3], 45), input([3], 46)];
  gradcheck('convTranspose2d', inputs, ([x, w, b]) =>
    weighted(
      convTranspose2d(x as Tensor, w as Tensor, b as Tensor, {
        stride: 2,
        padding: 1,
        outputPadding: 1,
      }),
      47,
    ),
  );
});

test('gradcheck: layerNorm, softmax, mseLoss', () => {
  const inputs = [input([3, 4], 48), input([4], 49, 0.5, 1.5), input([4], 50)];
  gradcheck('layerNorm', inputs, ([x, w, b]) =>
    weighted(layerNorm(x as Tensor, [4], { weight: w as Tensor, bias: b as Tensor }), 51),
  );
  gradcheck('softmax', [input([3, 4], 52)], ([x]) => weighted(softmax(x as Tensor, 0), 53));
  gradcheck('mseLoss', [input([3, 4], 54), input([4], 55)], ([x, y]) =>
    mseLoss(x as Tensor, y as Tensor).add(mseLoss(x as Tensor, y as Tensor, 'sum')),
  );
});

test('gradcheck: max, average and adaptive pooling; bilinear resize; padding', () => {
  const x = input([1, 2, 4, 4], 56);
  gradcheck('maxPool2d', [x], ([t]) => weighted(maxPool2d(t as Tensor, 2), 57));
  gradcheck('avgPool2d', [x], ([t]) => weighted(avgPool2d(t as Tensor, 3, 2, 1), 58));
  gradcheck('adaptiveAvgPool2d', [x], ([t]) =>
    weighted(adaptiveAvgPool2d(t as Tensor, [3, 2]), 59),
  );
  gradcheck('interpolate', [x], ([t]) => weighted(interpolate(t as Tensor, [5, 7]), 60));
  gradcheck('pad', [x], ([t]) => weighted(pad(t as Tensor, [1, 0, 2, 1], 0.3), 61));
});

test('gradcheck: gather, maskedSelect, split, norm', () => {
  const index = i64([2, 0, 1, 1, 0, 2], [2, 3]);
  const mask = i64([1, 0, 1, 1, 0, 0], [2, 3]).gt(0);
  const x = input([2, 3], 62);
  gradcheck('gather', [x], ([t]) => weighted(gather(t as Tensor, 1, index), 63));
  gradcheck('maskedSelect', [x], ([t]) => weighted(maskedSelect(t as Tensor, mask), 64));
  gradcheck('split', [x], ([t]) => {
    const [p, q] = split(t as Tensor, [1, 2], 1) as [Tensor, Tensor];
    return weighted(p, 65).add(weighted(q.exp(), 66));
  });
  gradcheck('norm', [x], ([t]) => weighted(norm(t as Tensor, 3, [1]), 67).add(norm(t as Tensor)));
  index.dispose();
  mask.dispose();
});

test('gradcheck: cosine similarity and pairwise distances', () => {
  const inputs = [input([3, 4], 68), input([2, 4], 69)];
  gradcheck('cdist', inputs, ([x, y]) => weighted(cdist(x as Tensor, y as Tensor), 70));
  gradcheck('cosineSimilarity', [input([3, 4], 71), input([1, 4], 72)], ([x, y]) =>
    weighted(cosineSimilarity(x as Tensor, y as Tensor, 1), 73),
  );
});
