/**
 * Factories for the off-thread module tests, imported by path in a worker thread.
 */
import {
  BatchNorm2d,
  Conv2d,
  Module,
  ReLU,
  Sequential,
  type Tensor,
} from '../../src/torch/index.js';

/** A small convolutional network: `[n, 3, h, w]` -> `[n, 4, h/2, w/2]`. */
export default function smallNet(): Module {
  return new Sequential([
    new Conv2d(3, 16, 3, { padding: 1 }),
    new BatchNorm2d(16),
    new ReLU(),
    new Conv2d(16, 4, 3, { stride: 2, padding: 1 }),
  ]);
}

/** A wide network, slow enough that a forward pass takes a noticeable time. */
export function wideNet(): Module {
  return new Sequential([
    new Conv2d(3, 64, 3, { padding: 1 }),
    new ReLU(),
    new Conv2d(64, 64, 3, { padding: 1 }),
  ]);
}

export const notAFactory = 42;

export function failingFactory(): Module {
  throw new RangeError('failingFactory: fails on purpose');
}

export function notAModule(): unknown {
  return { forward: 1 };
}

/** A module whose forward pass ends the worker thread, as a crash would. */
class Exiting extends Module {
  forward(): Tensor {
    process.exit(3);
  }
}

export function exitingNet(): Module {
  return new Exiting();
}

/** A module that answers with a mask: `x > 0` as bool. */
class Positive extends Module {
  forward(input: Tensor): Tensor {
    return input.gt(0);
  }
}

export function positiveMask(): Module {
  return new Positive();
}

/** A factory that leaves a timer running in the worker, which must not stop `close`. */
export function leavesTimer(): Module {
  setInterval(() => {}, 1000);
  return smallNet();
}
