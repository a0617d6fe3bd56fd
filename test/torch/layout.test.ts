/**
 * Memory layouts, devices and mixed precision: channels-last networks compute what the
 * default layout computes (forward and gradients), in-place re-layout keeps parameters
 * usable by optimisers, and unavailable devices fail with a clear error.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ResNet } from '../../src/models/resnet.js';
import {
  Conv2d,
  Generator,
  SGD,
  autocast,
  channelsLast,
  conv2d,
  cudaAvailable,
  liveTensors,
  getNumThreads,
  randn,
  setMemoryFormat,
  setNumThreads,
  tidy,
} from '../../src/torch/index.js';
import { assertClose, values } from '../helpers/tensors.js';

const tiny = { inChannels: 3, widths: [4, 8, 8, 16], blocks: [1, 1, 1, 1] } as const;

/** Largest |a - b| over two equally long arrays. */
function maxDiff(a: readonly number[], b: readonly number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
}

test('a channels-last ResNet gives the default layout its outputs and gradients (1e-4)', () => {
  const before = liveTensors();
  const nets = [false, true].map(
    (cl) => new ResNet({ ...tiny, channelsLast: cl }, new Generator(3)),
  );
  const x = randn([6, 3, 16, 16], new Generator(4));
  const results = nets.map((net) =>
    tidy(() => {
      const y = net.forward(x);
      y.pow(2).sum().backward();
      const grads = net.parameters().map((p) => values(p.grad as NonNullable<typeof p.grad>));
      return { y: values(y), grads };
    }),
  );
  const [nchw, cl] = results as [(typeof results)[0], (typeof results)[0]];
  assert.ok(nets[1]?.stem.weight.isChannelsLast, 'the channels-last net stores NHWC weights');
  assert.equal(nets[0]?.stem.weight.isChannelsLast, false);
  assertClose(cl.y, nchw.y, 1e-4, 'features');
  nchw.grads.forEach((g, i) => {
    const scale = Math.max(1, ...g.map(Math.abs));
    const diff = maxDiff(cl.grads[i] ?? [], g);
    assert.ok(diff <= 1e-4 * scale, `gradient ${i}: differs by ${diff} (scale ${scale})`);
  });
  x.dispose();
  for (const net of nets) net.dispose();
  assert.equal(liveTensors(), before);
});

test('Module.toMemoryFormat re-lays conv weights in place; an optimiser keeps working', () => {
  const net = new ResNet({ ...tiny, channelsLast: false }, new Generator(5));
  const sgd = new SGD(net.parameters(), { lr: 0.1 });
  const x = randn([4, 3, 8, 8], new Generator(6));
  const before = tidy(() => values(net.forward(x)));
  const weight = net.stem.weight;
  net.toMemoryFormat('channelsLast');
  assert.equal(net.stem.weight, weight, 'the same Tensor object');
  assert.ok(weight.isChannelsLast);
  assert.ok(weight.requiresGrad, 'still a parameter');
  assertClose(
    tidy(() => values(net.forward(x))),
    before,
    1e-5,
    'features after re-layout',
  );
  const w0 = values(weight);
  tidy(() => {
    sgd.zeroGrad();
    net.forward(x).sum().backward();
    sgd.step();
  });
  assert.ok(maxDiff(values(weight), w0) > 0, 'the optimiser updated the re-laid weight');
  net.toMemoryFormat('contiguous');
  assert.equal(weight.isChannelsLast, false);
  sgd.dispose();
  net.dispose();
  x.dispose();
});

test('setMemoryFormat refuses tensors inside a graph and bad formats, naming the op', () => {
  const w = new Conv2d(1, 2, 3).weight;
  tidy(() => {
    const y = w.mul(2);
    assert.throws(() => setMemoryFormat(y, 'channelsLast'), {
      name: 'RangeError',
      message: /^setMemoryFormat_: only leaf tensors/,
    });
    assert.throws(() => setMemoryFormat(randn([3]), 'channelsLast'), {
      name: 'RangeError',
      message: /^setMemoryFormat_: argument 'tensor' must have rank 4/,
    });
    assert.throws(() => setMemoryFormat(w, 'nhwc' as 'channelsLast'), {
      name: 'RangeError',
      message: /must be 'contiguous' or 'channelsLast' \(got 'nhwc'\)/,
    });
  });
  w.dispose();
});

test('tensors live on the cpu; cuda fails clearly when it is not there', () => {
  const t = randn([2]);
  assert.equal(t.device, 'cpu');
  tidy(() => assert.equal(t.toDevice('cpu').device, 'cpu'));
  if (!cudaAvailable()) {
    assert.throws(() => t.toDevice('cuda'), {
      name: 'RangeError',
      message: /^toDevice: device 'cuda' is not available/,
    });
  }
  assert.throws(() => t.toDevice('tpu'), {
    name: 'RangeError',
    message: /must be 'cpu', 'cuda' or 'cuda:N' \(got 'tpu'\)/,
  });
  t.dispose();
});

test('autocast runs convolutions in bfloat16 and restores float32 after', () => {
  const x = channelsLast(randn([2, 3, 8, 8], new Generator(7)));
  const w = randn([4, 3, 3, 3], new Generator(8)).mul(0.2);
  const exact = tidy(() => values(conv2d(x, w, null, { padding: 1 })));
  const mixed = autocast(() => conv2d(x, w, null, { padding: 1 }));
  assert.equal(mixed.dtype, 'bfloat16');
  // bfloat16 keeps 8 significant bits: relative error about 2^-8 per product.
  const scale = Math.max(...exact.map(Math.abs));
  assert.ok(maxDiff(values(mixed), exact) <= 0.03 * scale);
  tidy(() => assert.equal(conv2d(x, w, null).dtype, 'float32'));
  for (const t of [x, w, mixed]) t.dispose();
});

test('a strided 1x1 convolution in channels-last matches NCHW, forward and backward', () => {
  // libtorch 1.13's own kernel for this case corrupts the heap (one thread shows it at once);
  // the engine computes it another way. Repeat it so a regression crashes or differs here.
  const threads = getNumThreads();
  setNumThreads(1);
  try {
    for (let i = 0; i < 10; i++) {
      const [a, b] = [false, true].map((cl) =>
        tidy(() => {
          const raw = randn([6, 4, 15, 16], new Generator(10 + i));
          const x = (cl ? channelsLast(raw) : raw).detach().setRequiresGrad();
          const w0 = randn([8, 4, 1, 1], new Generator(20 + i));
          const w = (cl ? channelsLast(w0) : w0).detach().setRequiresGrad();
          const y = conv2d(x, w, null, { stride: 2 });
          y.pow(2).sum().backward();
          return [y, x.grad, w.grad].map((t) => values(t as NonNullable<typeof t>));
        }),
      ) as [number[][], number[][]];
      assert.deepEqual(
        b.map((v) => v.length),
        a.map((v) => v.length),
      );
      a.forEach((v, k) => assert.ok(maxDiff(b[k] ?? [], v) <= 1e-4, `output/gradient ${k}`));
    }
  } finally {
    setNumThreads(threads);
  }
});
