/**
 * OffThreadModule: the forward pass runs in a worker thread, gives the same numbers as in the
 * calling thread, leaves the event loop free, and reports every failure as an error.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { DuiadError, FormatError, ModelError, NotFoundError } from '../../src/errors.js';
import {
  Generator,
  OffThreadModule,
  Sequential,
  type Tensor,
  liveTensors,
  noGrad,
  randn,
  tensor,
} from '../../src/torch/index.js';
import smallNet, { wideNet } from '../helpers/off-thread-net.js';

const factoryModule = fileURLToPath(new URL('../helpers/off-thread-net.js', import.meta.url));

test('the off-thread forward pass equals the in-thread one, in evaluation mode', async (t) => {
  const net = smallNet().eval();
  const x = randn([5, 3, 12, 12], new Generator(3));
  const expected = noGrad(() => net.forward(x));
  const off = await OffThreadModule.start({ factoryModule, state: net, threads: 1 });
  t.after(() => off.close());

  const before = liveTensors();
  const y = await off.forward(x);
  assert.equal(liveTensors(), before + 1, 'only the output is new in this thread');
  assert.deepEqual(y.shape, [5, 4, 6, 6]);
  const a = y.toFloat32();
  const b = expected.toFloat32();
  const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  assert.equal(y.requiresGrad, false);
  for (const tensor of [net, x, expected, y]) tensor.dispose();
});

test('the event loop keeps running while a forward pass computes', async (t) => {
  const net = wideNet();
  const off = await OffThreadModule.start({ factoryModule, factoryExport: 'wideNet', state: net });
  t.after(() => off.close());
  net.dispose();
  const x = randn([16, 3, 96, 96], new Generator(1));

  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = performance.now();
  const y = await off.forward(x);
  const ms = performance.now() - started;
  clearInterval(timer);
  assert.deepEqual(y.shape, [16, 64, 96, 96]);
  // A synchronous forward pass would let no timer fire before it returned.
  assert.ok(ticks >= 2, `${ticks} timer callbacks ran during a ${ms.toFixed(0)} ms forward pass`);
  x.dispose();
  y.dispose();
});

test('a failing forward call rejects with the engine error and the module keeps working', async (t) => {
  const net = smallNet();
  const off = await OffThreadModule.start({ factoryModule, state: net });
  t.after(() => off.close());

  const wrong = randn([2, 5, 8, 8]);
  await assert.rejects(off.forward(wrong), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /conv2d/);
    return true;
  });
  const right = randn([2, 3, 8, 8]);
  const y = await off.forward(right);
  assert.deepEqual(y.shape, [2, 4, 4, 4]);
  for (const tensor of [net, wrong, right, y]) tensor.dispose();
});

test('start refuses bad factories, weights and options, naming what is wrong', async () => {
  const net = smallNet();
  await assert.rejects(
    OffThreadModule.start({ factoryModule, factoryExport: 'notAFactory', state: net }),
    (e: unknown) => e instanceof TypeError && /no function export 'notAFactory'/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, factoryExport: 'failingFactory', state: net }),
    (e: unknown) => e instanceof RangeError && /fails on purpose/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, factoryExport: 'notAModule', state: net }),
    (e: unknown) => e instanceof TypeError && /did not return a Module/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, factoryExport: 'wideNet', state: net }),
    (e: unknown) =>
      e instanceof DuiadError && e.code === 'E_MODEL' && /names differ/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, state: new Uint8Array([1, 2, 3]) }),
    (e: unknown) => e instanceof FormatError && /too short/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule: '/no/such/factory.js', state: net }),
    (e: unknown) => e instanceof NotFoundError && /factory\.js/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule: '', state: net }),
    (e: unknown) => e instanceof TypeError && /factoryModule/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, state: undefined as unknown as Uint8Array }),
    (e: unknown) => e instanceof TypeError && /state must be/.test(e.message),
  );
  await assert.rejects(
    OffThreadModule.start({ factoryModule, state: net, threads: 0 }),
    (e: unknown) => e instanceof RangeError && /threads/.test(e.message),
  );
  net.dispose();
});

test('after close, forward calls are refused', async () => {
  const net = smallNet();
  const off = await OffThreadModule.start({ factoryModule, state: net });
  net.dispose();
  const first = off.close();
  assert.equal(off.close(), first, 'a second close waits for the same stop');
  await first;
  const x = randn([1, 3, 8, 8]);
  await assert.rejects(
    off.forward(x),
    (e: unknown) => e instanceof DuiadError && /closed/.test(e.message),
  );
  x.dispose();
});

test('forward refuses what is not a tensor, by name', async (t) => {
  const net = smallNet();
  const off = await OffThreadModule.start({ factoryModule, state: net });
  t.after(() => off.close());
  net.dispose();
  for (const bad of [null, {}, [1, 2], 'x']) {
    await assert.rejects(
      off.forward(bad as unknown as Tensor),
      (e: unknown) => e instanceof TypeError && /input must be a Tensor/.test(e.message),
    );
  }
});

test('dtypes survive the trip both ways: a bool mask comes back as bool', async (t) => {
  const off = await OffThreadModule.start({
    factoryModule,
    factoryExport: 'positiveMask',
    state: new Sequential([]),
  });
  t.after(() => off.close());
  const x = tensor(Float32Array.from([-1, 2, 0, 3]), [4]);
  const mask = await off.forward(x);
  assert.equal(mask.dtype, 'bool');
  assert.deepEqual([...mask.to('int64').data()], [0n, 1n, 0n, 1n]);
  const b = await off.forward(x.gt(1));
  assert.equal(b.dtype, 'bool');
  for (const tensor of [x, mask, b]) tensor.dispose();
});

test('a crashed worker fails its call, later calls, and close still returns', async () => {
  const off = await OffThreadModule.start({
    factoryModule,
    factoryExport: 'exitingNet',
    state: new Sequential([]),
  });
  const x = randn([2, 3]);
  await assert.rejects(
    off.forward(x),
    (e: unknown) => e instanceof DuiadError && /exit code 3/.test(e.message),
  );
  await assert.rejects(
    off.forward(x),
    (e: unknown) => e instanceof DuiadError && /exit code 3/.test(e.message),
  );
  await off.close();
  x.dispose();
});

test('close stops a worker whose factory left a timer running', async () => {
  const net = smallNet();
  const off = await OffThreadModule.start({
    factoryModule,
    factoryExport: 'leavesTimer',
    state: net,
  });
  net.dispose();
  const started = performance.now();
  await off.close();
  assert.ok(performance.now() - started < 4000, 'close did not wait for the grace period');
});
