/**
 * Memory: `tidy` frees what it should and keeps what it returns, and a training loop keeps
 * the number of live tensors exactly flat and resident memory nearly flat.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BatchNorm2d,
  allocatorStats,
  channelsLast,
  conv2d,
  emptyCache,
  Conv2d,
  Generator,
  Linear,
  Module,
  SGD,
  type Tensor,
  crossEntropy,
  dispose,
  keep,
  liveTensors,
  noGrad,
  ones,
  randn,
  tidy,
} from '../../src/torch/index.js';
import { i64, values } from '../helpers/tensors.js';

test('tidy frees every tensor made inside it except the one it returns', () => {
  const before = liveTensors();
  const kept = tidy(() => {
    const a = ones([3]);
    const b = a.add(1);
    a.mul(b).sum();
    return b;
  });
  assert.equal(liveTensors(), before + 1);
  assert.equal(kept.disposed, false);
  assert.deepEqual(values(kept), [2, 2, 2]);
  kept.dispose();
  assert.equal(liveTensors(), before);
  // A result that is not a tensor keeps nothing.
  assert.equal(
    tidy(() => ones([2]).sum().item()),
    2,
  );
  assert.equal(liveTensors(), before);
});

test('nested tidy: the inner result moves to the outer scope and is freed there', () => {
  const before = liveTensors();
  let inner: Tensor | undefined;
  const outer = tidy(() => {
    inner = tidy(() => ones([2]).mul(3));
    assert.equal(liveTensors(), before + 1, 'only the inner result survives the inner tidy');
    const kept = tidy(() => inner?.add(1) as Tensor);
    assert.equal(inner.disposed, false);
    return kept;
  });
  assert.equal(inner?.disposed, true, 'the outer tidy frees the inner result it did not return');
  assert.deepEqual(values(outer), [4, 4]);
  assert.equal(liveTensors(), before + 1);
  outer.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy keeps tensors inside returned arrays and plain objects', () => {
  const before = liveTensors();
  const result = tidy(() => {
    ones([1]).add(5);
    return {
      a: ones([1]),
      list: [ones([2]), ones([3])],
      nested: { deeper: { t: ones([4]) } },
      count: 7,
    };
  });
  assert.equal(liveTensors(), before + 4);
  assert.equal(result.count, 7);
  assert.deepEqual(
    [result.a, ...result.list, result.nested.deeper.t].map((t) => t.size),
    [1, 2, 3, 4],
  );
  dispose(result);
  assert.equal(liveTensors(), before);
  const pair = tidy(() => [ones([1]), ones([1]).neg()] as const);
  assert.equal(liveTensors(), before + 2);
  dispose(pair);
  assert.equal(liveTensors(), before);
});

test('keep() exempts a tensor from every enclosing tidy', () => {
  const before = liveTensors();
  let kept: Tensor | undefined;
  tidy(() => {
    tidy(() => {
      kept = keep(ones([2]));
      ones([2]);
    });
  });
  assert.equal(liveTensors(), before + 1);
  assert.equal(kept?.disposed, false);
  kept?.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy frees the tensors made inside it when fn throws', () => {
  const before = liveTensors();
  assert.throws(
    () =>
      tidy(() => {
        ones([3]).add(1);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(liveTensors(), before);
});

test('noGrad: results do not require gradients and nothing leaks', () => {
  const before = liveTensors();
  tidy(() => {
    const p = ones([2]).setRequiresGrad();
    assert.equal(p.mul(2).requiresGrad, true);
    noGrad(() => assert.equal(p.mul(2).requiresGrad, false));
    assert.equal(p.mul(2).requiresGrad, true, 'grad mode is restored');
  });
  assert.equal(liveTensors(), before);
});

/** Conv2d(1→4, 3x3) + BatchNorm2d + ReLU + Linear(4·8·8 → 2) on `[batch, 1, 8, 8]`. */
class Tiny extends Module {
  readonly conv: Conv2d;
  readonly norm: BatchNorm2d;
  readonly head: Linear;

  constructor(generator: Generator) {
    super();
    this.conv = this.child('conv', new Conv2d(1, 4, 3, { padding: 1, generator }));
    this.norm = this.child('norm', new BatchNorm2d(4));
    this.head = this.child('head', new Linear(4 * 8 * 8, 2, { generator }));
  }

  forward(input: Tensor): Tensor {
    return tidy(() =>
      this.head.forward(this.norm.forward(this.conv.forward(input)).relu().flatten(1)),
    );
  }
}

test('1,000 SGD steps keep live tensors exactly flat and RSS flat', () => {
  const before = liveTensors();
  const generator = new Generator(7);
  const model = new Tiny(generator);
  const optimiser = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const x = randn([8, 1, 8, 8], generator);
  const targets = i64([0, 1, 0, 1, 1, 0, 1, 0], [8]);

  const losses: number[] = [];
  let liveAt10 = -1;
  let rssAt100 = 0;
  let rssAt500 = 0;
  for (let step = 1; step <= 1000; step++) {
    const loss = tidy(() => {
      optimiser.zeroGrad();
      const l = crossEntropy(model.forward(x), targets);
      l.backward();
      optimiser.step();
      return l.item();
    });
    losses.push(loss);
    if (step === 10) liveAt10 = liveTensors();
    if (step === 100) rssAt100 = process.memoryUsage().rss;
    if (step === 500) rssAt500 = process.memoryUsage().rss;
  }
  assert.equal(liveTensors(), liveAt10, 'live tensors at step 1,000 vs step 10');
  const rss = process.memoryUsage().rss;
  const growth = (rss - rssAt100) / 2 ** 20;
  assert.ok(growth < 30, `RSS grew by ${growth.toFixed(1)} MB between steps 100 and 1,000`);
  const late = (rss - rssAt500) / 2 ** 20;
  assert.ok(late < 10, `RSS grew by ${late.toFixed(1)} MB between steps 500 and 1,000`);
  // It learns: a fixed batch of 8 is memorised.
  assert.ok(
    (losses[999] as number) < (losses[0] as number) / 2,
    `losses ${losses[0]} → ${losses[999]}`,
  );

  // Evaluation under noGrad is leak-free too.
  model.eval();
  const liveBefore = liveTensors();
  for (let i = 0; i < 20; i++) noGrad(() => tidy(() => model.forward(x).sum().item()));
  assert.equal(liveTensors(), liveBefore);

  optimiser.dispose();
  model.dispose();
  x.dispose();
  targets.dispose();
  assert.equal(liveTensors(), before, 'everything is freed at the end');
});

test('inference with large activations keeps resident memory flat (block cache)', () => {
  const before = liveTensors();
  const generator = new Generator(9);
  // 16 × 16 × 64 × 64 float32 activations: 4 MiB each, served by the large-block cache.
  const [x, w1, w2] = tidy(() => [
    channelsLast(randn([16, 8, 64, 64], generator)),
    channelsLast(randn([16, 8, 3, 3], generator).mul(0.1)),
    channelsLast(randn([16, 16, 3, 3], generator).mul(0.1)),
  ]) as [Tensor, Tensor, Tensor];
  const batch = () =>
    noGrad(() =>
      tidy(() => {
        const h = conv2d(x, w1, null, { padding: 1 }).relu();
        return conv2d(h, w2, null, { padding: 1 }).relu().mean().item();
      }),
    );
  for (let i = 0; i < 5; i++) batch();
  const rss = process.memoryUsage().rss;
  const hits = allocatorStats().hits;
  for (let i = 0; i < 40; i++) batch();
  const growth = (process.memoryUsage().rss - rss) / 2 ** 20;
  assert.ok(growth < 8, `RSS grew by ${growth.toFixed(1)} MB over 40 batches`);
  assert.ok(allocatorStats().hits >= hits + 80, 'freed activation blocks are reused');
  dispose([x, w1, w2]);
  emptyCache();
  assert.equal(allocatorStats().cachedBytes, 0);
  assert.equal(liveTensors(), before);
});
