/**
 * Module: a network part with named parameters, buffers and children, a train/eval mode,
 * and a state dict for saving and loading.
 */
import { ModelError } from '../../errors.js';
import { native } from '../native.js';
import { assign, setDevice, setMemoryFormat } from '../ops.js';
import type { MemoryFormat } from '../native.js';
import { Tensor, keep } from '../tensor.js';

/** Named tensors of a module tree, keyed like PyTorch's state dicts (`layer1.0.conv1.weight`). */
export type StateDict = Map<string, Tensor>;

/** Base class of all network parts. Subclasses register what they own in their constructor. */
export abstract class Module {
  #training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Computes the module's output; inputs are not disposed. */
  abstract forward(input: Tensor): Tensor;

  get training(): boolean {
    return this.#training;
  }

  /** Registers a trainable tensor (it will require gradients). */
  protected parameter(name: string, t: Tensor): Tensor {
    keep(t).setRequiresGrad(true);
    this.#parameters.set(name, t);
    return t;
  }

  /** Registers a non-trainable tensor that is saved with the module (running statistics). */
  protected buffer(name: string, t: Tensor): Tensor {
    this.#buffers.set(name, keep(t));
    return t;
  }

  /** Registers a child module. */
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** All parameters of this module and its children, with dotted names. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#parameters].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** All buffers of this module and its children, with dotted names. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#buffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Parameters and buffers by name; the tensors are the module's own (not copies). */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copies values from `state` into this module; names and shapes must match exactly. */
  loadStateDict(state: ReadonlyMap<string, Tensor>): void {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const extra = [...state.keys()].filter((k) => !own.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new ModelError(
        `loadStateDict: names differ (missing: ${missing.slice(0, 5).join(', ') || 'none'}; ` +
          `unexpected: ${extra.slice(0, 5).join(', ') || 'none'})`,
      );
    }
    for (const [name, t] of own) {
      const source = state.get(name) as Tensor;
      if (source.shape.join(',') !== t.shape.join(',')) {
        throw new ModelError(
          `loadStateDict: '${name}' has shape [${source.shape.join(', ')}], expected [${t.shape.join(', ')}]`,
        );
      }
      if (source.dtype !== t.dtype) {
        throw new ModelError(`loadStateDict: '${name}' is ${source.dtype}, expected ${t.dtype}`);
      }
      assign(t, source);
    }
  }

  /** Switches this module and its children to training (true) or evaluation mode. */
  train(flag = true): this {
    this.#training = flag;
    for (const c of this.#children.values()) c.train(flag);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Re-lays every rank-4 parameter and buffer (convolution weights) in `format`, in place.
   * Channels-last weights make libtorch's CPU convolutions (oneDNN) produce channels-last
   * activations. Do it before building an optimiser's graph, not in the middle of a step.
   */
  toMemoryFormat(format: MemoryFormat): this {
    for (const t of this.stateDict().values()) if (t.rank === 4) setMemoryFormat(t, format);
    return this;
  }

  /** Moves every parameter and buffer to `device` (`cpu`, `cuda`, `cuda:N`), in place. */
  toDevice(device: string): this {
    for (const t of this.stateDict().values()) setDevice(t, device);
    return this;
  }

  /** Drops accumulated gradients of all parameters. */
  zeroGrad(): void {
    native.zeroGrad(this.parameters().map((t) => t.handle));
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}
