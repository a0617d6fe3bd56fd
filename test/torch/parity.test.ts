/**
 * Parity with PyTorch: every op family, a ResNet basic block (forward and backward) and the
 * optimisers against values PyTorch 1.13 computed (test/fixtures/parity/generate.py wrote the
 * fixtures). float32 tolerances: 1e-5 absolute + 1e-5 relative for exact-formula ops, 1e-4 for
 * convolutions, norms and sampling (different summation orders), exact for integers, bools
 * and indices.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  AdamW,
  BatchNorm2d,
  Conv2d,
  Module,
  SGD,
  type Tensor,
  adaptiveAvgPool2d,
  affineGrid,
  amax,
  amin,
  argmax,
  avgPool2d,
  batchNorm,
  bmm,
  cat,
  cdist,
  clipGradNorm,
  conv2d,
  convTranspose2d,
  cosineSimilarity,
  crossEntropy,
  decodeSafetensors,
  encodeSafetensors,
  expand,
  flip,
  gather,
  ge,
  gridSample,
  indexSelect,
  interpolate,
  layerNorm,
  liveTensors,
  logSoftmax,
  logsumexp,
  maskedFill,
  maxPool2d,
  maximum,
  mseLoss,
  normalize,
  ones,
  pad,
  rot90,
  rsqrt,
  sigmoid,
  softmax,
  sort,
  stack,
  tanh,
  tensor,
  tidy,
  topk,
  variance,
  where,
  zeros,
} from '../../src/torch/index.js';
import { values } from '../helpers/tensors.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/parity');

interface Encoded {
  dtype: 'float32' | 'float64' | 'int64' | 'uint8' | 'bool';
  shape: number[];
  data: number[];
}

interface Case {
  inputs: Record<string, Encoded>;
  outputs: Record<string, Encoded>;
}

function decode(e: Encoded): Tensor {
  if (e.dtype === 'float32') return tensor(Float32Array.from(e.data), e.shape);
  if (e.dtype === 'float64') return tensor(Float64Array.from(e.data), e.shape);
  if (e.dtype === 'int64') return tensor(BigInt64Array.from(e.data.map(BigInt)), e.shape);
  const bytes = tensor(Uint8Array.from(e.data), e.shape);
  return e.dtype === 'bool' ? bytes.to('bool') : bytes;
}

/**
 * Asserts `actual` matches PyTorch's `expected`: same shape and dtype, values within
 * `atol + rtol·|expected|` (exact for integer and bool results).
 */
function expectMatch(what: string, actual: Tensor, expected: Encoded, tol = 1e-5): void {
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  const got = values(actual);
  const exact = expected.dtype !== 'float32' && expected.dtype !== 'float64';
  expected.data.forEach((e, i) => {
    const a = got[i] as number;
    const bound = exact ? 0 : tol + tol * Math.abs(e);
    assert.ok(Math.abs(a - e) <= bound, `${what}[${i}]: got ${a}, PyTorch ${e} (bound ${bound})`);
  });
}

const ops = JSON.parse(readFileSync(join(fixtures, 'ops.json'), 'utf8')) as {
  cases: Record<string, Case>;
};

type Outputs = Record<string, Tensor | [Tensor, number]>;

/** duiad's answer for each fixture output, from the fixture's inputs. */
const families: Record<string, (x: Record<string, Tensor>) => Outputs> = {
  elementwise: ({ a, b, c }) => {
    const [p, q, r] = [a, b, c] as Tensor[] as [Tensor, Tensor, Tensor];
    return {
      add: p.add(q),
      sub: p.sub(r),
      mul: p.mul(q),
      div: p.div(q.abs().add(0.5)),
      pow: p.abs().add(0.1).pow(q),
      exp: p.exp(),
      log: p.abs().add(1).log(),
      sqrt: p.abs().sqrt(),
      sigmoid: sigmoid(p),
      tanh: tanh(p),
      maximum: maximum(p, q),
      clamp: p.clamp(-0.5, 0.5),
      lt: p.lt(q),
      ge: ge(p, r),
      where: where(p.gt(0), p, q),
      neg: p.neg(),
      abs: p.abs(),
      relu: p.relu(),
      rsqrt: rsqrt(p.abs().add(0.1)),
    };
  },
  integers: ({ i }) => {
    const t = i as Tensor;
    return { add: t.add(3), mul: t.mul(t), sum: t.sum([1]), gt: t.gt(4), amax: amax(t, [0]) };
  },
  reductions: ({ x }) => {
    const t = x as Tensor;
    return {
      sum1k: t.sum([1], true),
      mean02: t.mean([0, 2]),
      amax2: amax(t, [2]),
      amin0: amin(t, [0]),
      lse2: logsumexp(t, [2]),
      var12: variance(t, [1, 2]),
      argmax1: argmax(t, 1),
      sumAll: t.sum(),
      meanAll: t.mean(),
    };
  },
  indexing: ({ x, idx, gidx, mask }) => {
    const t = x as Tensor;
    return {
      narrow: t.narrow(2, 1, 2),
      indexSelect: indexSelect(t, 2, idx as Tensor),
      gather: gather(t, 2, gidx as Tensor),
      maskedFill: maskedFill(t, mask as Tensor, -1),
    };
  },
  shapes: ({ x, y }) => {
    const [p, q] = [x, y] as [Tensor, Tensor];
    return {
      permute: p.permute([2, 0, 1]),
      cat: cat([p, q], 1),
      stack: stack([p, q], 0),
      flip: flip(p, [0, 2]),
      rot90: rot90(p, 1, [1, 2]),
      pad: pad(p, [1, 2, 0, 1], 0.5),
      transpose: p.transpose(0, 2),
      reshape: p.reshape([4, 6]),
    };
  },
  matmul: ({ m1, m2, b1, b2 }) => ({
    mm: (m1 as Tensor).matmul(m2 as Tensor),
    bmm: bmm(b1 as Tensor, b2 as Tensor),
    mv: (m1 as Tensor).matmul((m2 as Tensor).narrow(1, 0, 1).reshape([4])),
  }),
  conv: ({ img, w, bias, probe, wt }) => {
    const [x, k, b] = [img, w, bias].map((t) => (t as Tensor).setRequiresGrad()) as Tensor[];
    const out = conv2d(x as Tensor, k as Tensor, b as Tensor, { stride: 2, padding: 1 });
    out
      .mul(probe as Tensor)
      .sum()
      .backward();
    const grads = [x, k, b].map((t) => (t?.grad as Tensor).clone());
    const convT = convTranspose2d(x as Tensor, wt as Tensor, null, {
      stride: 2,
      padding: 1,
      outputPadding: 1,
    });
    return {
      conv: [out.detach(), 1e-4],
      gradImg: [grads[0] as Tensor, 1e-4],
      gradW: [grads[1] as Tensor, 1e-4],
      gradBias: [grads[2] as Tensor, 1e-4],
      convT: [convT.detach(), 1e-4],
    };
  },
  pooling: ({ p }) => ({
    max2: maxPool2d(p as Tensor, 2),
    avg3s2p1: avgPool2d(p as Tensor, 3, 2, 1),
    adaptive2: adaptiveAvgPool2d(p as Tensor, [2, 2]),
  }),
  norms: ({ p, bw, bb, lw, lb }) => {
    const runningMean = zeros([3]);
    const runningVar = ones([3]);
    const options = { weight: bw, bias: bb, runningMean, runningVar, eps: 1e-5 };
    const train = batchNorm(p as Tensor, { ...options, training: true, momentum: 0.1 });
    return {
      batchNorm: [train, 1e-4],
      runningMean,
      runningVar,
      layerNorm: [layerNorm(p as Tensor, [6], { weight: lw, bias: lb }), 1e-4],
      batchNormEval: [batchNorm(p as Tensor, { ...options, training: false }), 1e-4],
    };
  },
  sampling: ({ p, theta }) => {
    const grid = affineGrid(theta as Tensor, [2, 3, 5, 4]);
    return {
      bilinear: [interpolate(p as Tensor, [4, 9]), 1e-4],
      nearest: interpolate(p as Tensor, [3, 12], 'nearest'),
      grid: [grid, 1e-5],
      gridSample: [gridSample(p as Tensor, grid), 1e-4],
      gridSampleBorder: [gridSample(p as Tensor, grid, { paddingMode: 'border' }), 1e-4],
    };
  },
  losses: ({ logits, targets, reg }) => {
    const l = logits as Tensor;
    return {
      softmax: softmax(l, 1),
      logSoftmax: logSoftmax(l, 0),
      crossEntropy: crossEntropy(l, targets as Tensor),
      crossEntropySmooth: crossEntropy(l, targets as Tensor, 0.1),
      mse: mseLoss(l, reg as Tensor),
    };
  },
  sorting: ({ s }) => {
    const top = topk(s as Tensor, 3, { dim: 1 });
    const sorted = sort(s as Tensor, { dim: 0, descending: true });
    return {
      topkValues: top.values,
      topkIndices: top.indices,
      sortValues: sorted.values,
      sortIndices: sorted.indices,
    };
  },
  distances: ({ u, v }) => ({
    cosine: cosineSimilarity(u as Tensor, expand((v as Tensor).narrow(0, 0, 1), [4, 5]), 1),
    cdist: [cdist(u as Tensor, v as Tensor), 1e-4],
    normalize: normalize(u as Tensor),
  }),
};

for (const [family, compute] of Object.entries(families)) {
  test(`parity with PyTorch: ${family}`, () => {
    const fixture = ops.cases[family];
    assert.ok(fixture, `ops.json has no case '${family}'`);
    const before = liveTensors();
    tidy(() => {
      const inputs = Object.fromEntries(
        Object.entries(fixture.inputs).map(([k, e]) => [k, decode(e)]),
      );
      const outputs = compute(inputs);
      assert.deepEqual(Object.keys(outputs).sort(), Object.keys(fixture.outputs).sort());
      for (const [name, out] of Object.entries(outputs)) {
        const [t, tol] = Array.isArray(out) ? out : [out, 1e-5];
        expectMatch(`${family}.${name}`, t, fixture.outputs[name] as Encoded, tol);
      }
    });
    assert.equal(liveTensors(), before);
  });
}

/** The stride-2 basic block of the fixture: 4 -> 8 channels, 1×1 projection shortcut. */
class Block extends Module {
  readonly conv1 = this.child('conv1', new Conv2d(4, 8, 3, { stride: 2, padding: 1 }));
  readonly bn1 = this.child('bn1', new BatchNorm2d(8));
  readonly conv2 = this.child('conv2', new Conv2d(8, 8, 3, { padding: 1 }));
  readonly bn2 = this.child('bn2', new BatchNorm2d(8));
  readonly sc = this.child('shortcut.0', new Conv2d(4, 8, 1, { stride: 2 }));
  readonly scBn = this.child('shortcut.1', new BatchNorm2d(8));

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.bn1.forward(this.conv1.forward(x)).relu();
      const y = this.bn2.forward(this.conv2.forward(h));
      return y.add(this.scBn.forward(this.sc.forward(x))).relu();
    });
  }
}

test('parity with PyTorch: a ResNet basic block, forward and backward (1e-4)', () => {
  const { tensors } = decodeSafetensors(
    readFileSync(join(fixtures, 'block.safetensors')),
    'block.safetensors',
  );
  const get = (name: string) => tensors.get(name) as Tensor;
  const block = new Block();
  const params = new Map(
    [...tensors].filter(([k]) => k.startsWith('param.')).map(([k, t]) => [k.slice(6), t]),
  );
  const buffers = block.namedBuffers().map(([k]) => k);
  // The fixture holds the running statistics after the forward pass; start from PyTorch's.
  for (const k of buffers) params.set(k, k.endsWith('var') ? ones([8]) : zeros([8]));
  block.loadStateDict(params);
  for (const k of buffers) params.get(k)?.dispose();
  tidy(() => {
    const x = get('input').clone().setRequiresGrad();
    const out = block.forward(x);
    expectMatch('block.output', out, encodedOf(get('output')), 1e-4);
    out.mul(get('probe')).sum().backward();
    expectMatch('block.grad.input', x.grad as Tensor, encodedOf(get('grad.input')), 1e-4);
    for (const [name, p] of block.namedParameters()) {
      expectMatch(`block.grad.${name}`, p.grad as Tensor, encodedOf(get(`grad.${name}`)), 1e-4);
    }
    for (const [name, b] of block.namedBuffers()) {
      const expected = tensors.get(`buffer.${name}`);
      if (expected) expectMatch(`block.${name}`, b, encodedOf(expected), 1e-5);
    }
  });
  block.dispose();
  for (const t of tensors.values()) t.dispose();
});

function encodedOf(t: Tensor): Encoded {
  return { dtype: t.dtype as Encoded['dtype'], shape: [...t.shape], data: values(t) };
}

test('parity with PyTorch: SGD with nesterov, AdamW and gradient clipping, 3 steps', () => {
  const fixture = JSON.parse(readFileSync(join(fixtures, 'optim.json'), 'utf8')) as Record<
    string,
    Encoded
  > & { clipNorms: number[] };
  const run = (
    make: (ps: Tensor[]) => SGD | AdamW,
    clip?: number,
  ): { p: number[]; norms: number[] } =>
    tidy(() => {
      const p = decode(fixture['start'] as Encoded).setRequiresGrad();
      const target = decode(fixture['target'] as Encoded);
      const scale = tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [6]);
      const opt = make([p]);
      const norms: number[] = [];
      for (let s = 0; s < 3; s++) {
        opt.zeroGrad();
        tidy(() => p.sub(target).pow(2).mul(scale).sum().backward());
        if (clip !== undefined) norms.push(clipGradNorm([p], clip));
        opt.step();
      }
      opt.dispose();
      return { p: values(p), norms };
    });
  const check = (what: string, got: number[], key: string) =>
    (fixture[key] as Encoded).data.forEach((e, i) =>
      assert.ok(Math.abs((got[i] as number) - e) <= 1e-5 + 1e-5 * Math.abs(e), `${what}[${i}]`),
    );
  const sgd = run(
    (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true }),
  );
  check('sgd nesterov', sgd.p, 'sgdNesterov');
  const adamw = run(
    (ps) => new AdamW(ps, { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05 }),
  );
  check('adamw', adamw.p, 'adamw');
  const clipped = run((ps) => new SGD(ps, { lr: 0.05, momentum: 0 }), 1);
  check('clipped', clipped.p, 'sgdClipped');
  clipped.norms.forEach((n, i) => {
    const e = fixture.clipNorms[i] as number;
    assert.ok(Math.abs(n - e) <= 1e-5 * Math.abs(e), `clip norm ${i}: ${n} vs ${e}`);
  });
});

test('safetensors: duiad writes the committed file PyTorch reads back, byte for byte', () => {
  // generate.py reads duiad-written.safetensors with its own reader and checks these values.
  const bytes = tidy(() =>
    encodeSafetensors(
      new Map([
        [
          'ramp',
          tensor(
            Float32Array.from({ length: 12 }, (_, i) => i / 4),
            [3, 4],
          ),
        ],
        ['counts', tensor(BigInt64Array.from([-2n, 0n, 5n]), [3])],
        ['flags', tensor(Uint8Array.from([1, 0, 255]), [3])],
        ['wide', tensor(Float64Array.from([Math.PI, -1e-300]), [2])],
      ]),
      { writer: 'duiad' },
    ),
  );
  const committed = readFileSync(join(fixtures, 'duiad-written.safetensors'));
  assert.deepEqual(Buffer.from(bytes), committed);
});
