/**
 * The addon must never crash the process and never silently accept bad arguments: every
 * binding throws a TypeError, RangeError or (for libtorch's own checks) Error whose message
 * starts with the op name. Calls that might crash run in a child process, so that a crash
 * fails one test instead of the whole file.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Tensor, conv2d, linear, ones, tensor, tidy, zeros } from '../../src/torch/index.js';
import type { FuzzReport } from '../helpers/native-fuzz.js';
import { f32 } from '../helpers/tensors.js';

type Fn = (...args: unknown[]) => unknown;

const addonPath = fileURLToPath(new URL('../../../build/Release/duiad.node', import.meta.url));
const native = createRequire(import.meta.url)('../../../build/Release/duiad.node') as Record<
  string,
  unknown
>;
const TensorHandle = native['TensorHandle'] as new (...args: unknown[]) => object;
const GeneratorHandle = native['GeneratorHandle'] as new (...args: unknown[]) => object;
const call = (name: string, ...args: unknown[]) => (native[name] as Fn)(...args);

/** Asserts that `fn` throws an error of class `kind` whose message matches `pattern`. */
function throwsLike(fn: () => unknown, kind: ErrorConstructor, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error, `not an Error: ${String(error)}`);
    assert.equal(error.constructor, kind, `${error.constructor.name}: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

/** What a snippet of CommonJS run in a fresh node process did. */
interface Isolated {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** The error the snippet threw (class and message), or null if it returned. */
  error: { name: string; message: string } | null;
}

/** Runs `body` (with the addon bound to `n`) in a child process and reports what happened. */
function isolated(body: string): Isolated {
  const script = `
    const n = require(${JSON.stringify(addonPath)});
    let out = null;
    try { ${body}; } catch (e) { out = { name: e.constructor.name, message: e.message }; }
    process.stdout.write(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const error = child.status === 0 ? (JSON.parse(child.stdout) as Isolated['error']) : null;
  return { status: child.status, signal: child.signal, error };
}

test('every binding rejects missing and wrong arguments with a well-formed error', () => {
  // The fuzz prints CALL <label> before each call; after a crash the last one names it.
  const script = fileURLToPath(new URL('../helpers/native-fuzz.js', import.meta.url));
  const child = spawnSync(process.execPath, [script], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const lines = child.stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  assert.ok(
    child.status === 0 && last.startsWith('REPORT '),
    `the fuzz child died (status ${child.status}, signal ${child.signal}) at ${last}\n` +
      child.stderr.slice(0, 2000),
  );
  const report = JSON.parse(last.slice('REPORT '.length)) as FuzzReport;
  // Enumerated dynamically; these must be among them.
  for (const name of ['fromArray', 'conv2d', 'batchNorm', 'sgdStep', 'affineGrid', 'logdet']) {
    assert.ok(report.bindings.includes(name), `${name} is not exported`);
  }
  assert.ok(report.bindings.length >= 100, `only ${report.bindings.length} bindings`);
  assert.ok(report.calls > 10_000);
  assert.deepEqual(report.violations.slice(0, 20), [], `${report.violations.length} violations`);
});

test('nullary bindings return values of the right type', () => {
  assert.equal(typeof call('version'), 'string');
  assert.match(call('version') as string, /^\d+\.\d+/);
  assert.equal(typeof call('isGradEnabled'), 'boolean');
  assert.ok(Number.isInteger(call('liveTensors')));
  assert.ok((call('getNumThreads') as number) >= 1);
});

test('TensorHandle cannot be constructed from JavaScript', () => {
  throwsLike(() => new TensorHandle(), TypeError, /^TensorHandle: cannot be constructed/);
  throwsLike(() => new TensorHandle({}), TypeError, /^TensorHandle: cannot be constructed/);
  throwsLike(() => new TensorHandle(1, 2), TypeError, /^TensorHandle: cannot be constructed/);
  class Sub extends TensorHandle {}
  throwsLike(() => new Sub(), TypeError, /^TensorHandle: cannot be constructed/);
  throwsLike(() => (TensorHandle as unknown as Fn)(), TypeError, /without 'new'/);
});

test('GeneratorHandle takes one integer seed in [0, 2^53)', () => {
  const seedError = /^GeneratorHandle: argument 'seed'/;
  throwsLike(() => new GeneratorHandle(-1), RangeError, seedError);
  throwsLike(() => new GeneratorHandle(NaN), RangeError, seedError);
  throwsLike(() => new GeneratorHandle(Infinity), RangeError, seedError);
  throwsLike(() => new GeneratorHandle(1.5), RangeError, seedError);
  throwsLike(() => new GeneratorHandle(2 ** 53), RangeError, seedError);
  throwsLike(() => new GeneratorHandle('x'), TypeError, seedError);
  throwsLike(() => new GeneratorHandle(), TypeError, seedError);
  throwsLike(() => new GeneratorHandle(1, 2), TypeError, seedError);
  throwsLike(() => new GeneratorHandle(5n), TypeError, seedError);
  throwsLike(() => (GeneratorHandle as unknown as Fn)(1), TypeError, /without 'new'/);
  // Valid seeds work, and the same seed gives the same numbers.
  tidy(() => {
    const draw = (seed: number) => {
      const h = call('randn', [4], new GeneratorHandle(seed)) as { dispose(): void };
      const values = Array.from(call('toArray', h) as Float32Array);
      h.dispose();
      return values;
    };
    assert.deepEqual(draw(2 ** 53 - 1), draw(2 ** 53 - 1));
    assert.deepEqual(draw(0), draw(0));
    assert.notDeepEqual(draw(0), draw(1));
  });
});

test('handle methods reject a receiver that is not a handle', () => {
  const dispose = (TensorHandle.prototype as { dispose: Fn }).dispose;
  assert.throws(() => dispose.call({}));
  assert.throws(() => dispose.call(5));
  const getter = Object.getOwnPropertyDescriptor(TensorHandle.prototype, 'disposed')?.get;
  assert.ok(getter);
  assert.throws(() => getter.call({}));
});

test('shape mismatches from libtorch name the op and the shapes', () => {
  tidy(() => {
    const a = zeros([2, 3]);
    throwsLike(
      () => a.matmul(zeros([2, 3])),
      Error,
      /^matmul\(input \[2, 3\], other \[2, 3\]\): .*2x3 and 2x3/,
    );
    throwsLike(() => a.add(zeros([4])), Error, /^add\(input \[2, 3\], other \[4\]\): /);
    throwsLike(
      () => conv2d(zeros([1, 3, 8, 8]), zeros([4, 2, 3, 3]), null),
      Error,
      /^conv2d\(input \[1, 3, 8, 8\], weight \[4, 2, 3, 3\]\): .*3 channels/,
    );
    throwsLike(() => linear(a, zeros([4, 5])), Error, /^linear\(input \[2, 3\], weight \[4, 5\]\)/);
    throwsLike(
      () => call('stack', [a.handle, zeros([2, 4]).handle]),
      Error,
      /^stack.*\[2, 3\].*\[2, 4\]/,
    );
    throwsLike(
      () => a.reshape([4, 2]),
      Error,
      /^reshape\(input \[2, 3\]\): shape '\[4, 2\]' is invalid/,
    );
    throwsLike(() => a.narrow(1, 2, 2), RangeError, /^narrow: argument 'length'/);
  });
});

test('cat shape mismatches name the shapes', () => {
  tidy(() => {
    throwsLike(
      () => call('cat', [zeros([2, 3]).handle, zeros([2, 4]).handle], 0),
      Error,
      /^cat.*\[2, 3\].*\[2, 4\]/,
    );
  });
});

test('the Tensor API throws a TypeError naming the disposed tensor after dispose()', () => {
  tidy(() => {
    const t = f32([1, 2, 3], [3]);
    const other = ones([3]);
    t.dispose();
    assert.equal(t.disposed, true);
    t.dispose(); // A second dispose is a no-op.
    const uses: [string, () => unknown][] = [
      ['shape', () => t.shape],
      ['dtype', () => t.dtype],
      ['data', () => t.data()],
      ['toFloat32', () => t.toFloat32()],
      ['item', () => t.item()],
      ['add', () => t.add(1)],
      ['add as the other operand', () => other.add(t)],
      ['matmul', () => other.matmul(t)],
      ['reshape', () => t.reshape([3, 1])],
      ['to', () => t.to('float64')],
      ['clone', () => t.clone()],
      ['sum', () => t.sum()],
      ['relu', () => t.relu()],
      ['grad', () => t.grad],
      ['requiresGrad', () => t.requiresGrad],
      ['setRequiresGrad', () => t.setRequiresGrad()],
      ['backward', () => t.backward()],
      ['toString', () => t.toString()],
    ];
    for (const [what, use] of uses) {
      assert.throws(use, (error: unknown) => {
        assert.ok(error instanceof TypeError, `${what}: ${String(error)}`);
        assert.match(error.message, /disposed/, what);
        return true;
      });
    }
  });
});

test('shape, rank and size throw after dispose even when the shape was read before', () => {
  const t: Tensor = f32([1, 2, 3], [3]);
  assert.equal(t.size, 3);
  t.dispose();
  assert.throws(() => t.shape, TypeError);
  assert.throws(() => t.size, TypeError);
});

test('an object made from TensorHandle.prototype is rejected by name', () => {
  const fake = Object.create(TensorHandle.prototype) as object;
  throwsLike(() => call('neg', fake), TypeError, /^neg: argument 'input'/);
  throwsLike(() => call('cat', [fake]), TypeError, /^cat: argument 'tensors\[0\]'/);
  const fakeGenerator = Object.create(GeneratorHandle.prototype) as object;
  throwsLike(() => call('randn', [2], fakeGenerator), TypeError, /^randn: argument/);
});

test('fromArray copies a SharedArrayBuffer-backed array', () => {
  const shared = new Float32Array(new SharedArrayBuffer(8));
  shared.set([1.5, -2]);
  const t = tensor(shared, [2]);
  shared.set([0, 0]);
  assert.deepEqual(Array.from(t.toFloat32()), [1.5, -2]);
  t.dispose();
});

test('batchNorm of an input with zero channels throws instead of crashing', () => {
  for (const shape of ['[2, 0]', '[2, 0, 3]', '[1, 0, 2, 2]']) {
    const run = isolated(`n.batchNorm(n.zeros(${shape}), null, null, null, null, true, 0.1, 1e-5)`);
    assert.equal(run.signal, null, `batchNorm on ${shape} killed the process`);
    assert.equal(run.error?.name, 'RangeError', shape);
    assert.match(run.error?.message ?? '', /^batchNorm: /);
  }
});

test('huge and negative shapes are refused before any allocation', () => {
  throwsLike(() => zeros([1e9, 1e9]), RangeError, /^zeros: .*absurdly large/);
  throwsLike(() => zeros([-1, 2]), RangeError, /^zeros: argument 'shape\[0\]'/);
  throwsLike(() => zeros([2.5]), RangeError, /^zeros: argument 'shape\[0\]'/);
  throwsLike(() => call('fromArray', new Float32Array(2), [-2, -1]), RangeError, /^fromArray: /);
  throwsLike(() => call('randn', [2 ** 20, 2 ** 20]), RangeError, /^randn: .*absurdly large/);
  throwsLike(() => call('full', [1e9, 1e9], 1), RangeError, /^full: .*absurdly large/);
  // A broadcast view may be huge, but reading it back must fail cleanly.
  const run = isolated(`n.toArray(n.expand(n.zeros([1]), [1e9, 1e9]))`);
  assert.equal(run.status, 0, `toArray of a huge view: signal ${run.signal}`);
  assert.match(run.error?.message ?? 'returned', /^toArray/);
});

test('libtorch errors raised mid-op leave the process usable', () => {
  tidy(() => {
    const p = ones([2]).setRequiresGrad();
    const loss = p.mul(p).sum();
    loss.backward();
    throwsLike(() => loss.backward(), Error, /^backward\(tensor \[\]\): .*second time/);
    const view = new Tensor(call('expand', zeros([1]).handle, [3]) as Tensor['handle']);
    throwsLike(
      () => call('copy_', view.handle, ones([3]).handle),
      Error,
      /^copy_\(destination \[3\], source \[3\]\)/,
    );
    assert.equal(ones([2]).add(1).sum().item(), 4);
  });
});
