/**
 * A module whose forward pass runs off the event loop: a worker thread builds the module from
 * a factory, loads the given weights, switches to evaluation mode and answers `forward` calls
 * one at a time, without autograd. The calling thread keeps serving while a batch runs.
 *
 * The factory is named by module path (an ES module exporting a function that returns a
 * Module), because a function cannot be sent to another thread; the weights travel as
 * safetensors bytes.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { DuiadError, type ErrorCode } from '../errors.js';
import type { Module } from './nn/module.js';
import type { TensorData } from './native.js';
import { tensor } from './ops.js';
import { encodeSafetensors } from './safetensors.js';
import type { Tensor } from './tensor.js';

/** How an off-thread module is built. */
export interface OffThreadOptions {
  /** Path or `file:` URL of an ES module that exports the factory. */
  factoryModule: string;
  /** Name of the factory export (default `default`); it is called without arguments. */
  factoryExport?: string;
  /** Weights to load: a module's state dict (copied), or safetensors bytes. */
  state: Module | Uint8Array;
  /** Engine threads in the worker; absent = the engine's default. */
  threads?: number;
}

/** Messages between this thread and the worker. */
export type OffThreadRequest =
  { type: 'forward'; id: number; data: TensorData; shape: number[] } | { type: 'close' };
export type OffThreadReply =
  | { type: 'ready' }
  | { type: 'output'; id: number; data: TensorData; shape: number[] }
  | { type: 'error'; id: number | null; name: string; code?: ErrorCode; message: string };

const engineError = (message: string) => new DuiadError('E_NATIVE', message);

/** Rebuilds an error sent from the worker: TypeError and RangeError stay so, others keep their code. */
function fromWorker(reply: Extract<OffThreadReply, { type: 'error' }>): Error {
  if (reply.name === 'TypeError') return new TypeError(reply.message);
  if (reply.name === 'RangeError') return new RangeError(reply.message);
  return new DuiadError(reply.code ?? 'E_NATIVE', reply.message);
}

interface Pending {
  resolve: (t: Tensor) => void;
  reject: (e: Error) => void;
}

/** A module served by a worker thread. Start it with `OffThreadModule.start`. */
export class OffThreadModule {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | null = null;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: OffThreadReply) => this.#receive(reply));
    worker.on('error', (e: Error) => this.#fail(engineError(`off-thread module: ${e.message}`)));
    worker.on('exit', (code) =>
      this.#fail(engineError(`off-thread module: the worker stopped (exit code ${code})`)),
    );
  }

  /** Starts the worker and resolves once the module is built and its weights loaded. */
  static async start(options: OffThreadOptions): Promise<OffThreadModule> {
    if (typeof options.factoryModule !== 'string' || options.factoryModule === '') {
      throw new TypeError('OffThreadModule.start: factoryModule must be a path or file: URL');
    }
    if (
      options.threads !== undefined &&
      !(Number.isInteger(options.threads) && options.threads >= 1)
    ) {
      throw new RangeError(
        `OffThreadModule.start: threads must be a positive integer (got ${String(options.threads)})`,
      );
    }
    const state =
      options.state instanceof Uint8Array
        ? options.state
        : encodeSafetensors(options.state.stateDict());
    const url = options.factoryModule.startsWith('file:')
      ? options.factoryModule
      : pathToFileURL(options.factoryModule).href;
    const worker = new Worker(fileURLToPath(new URL('./off-thread-worker.js', import.meta.url)), {
      workerData: {
        factoryUrl: url,
        factoryExport: options.factoryExport ?? 'default',
        state,
        threads: options.threads,
      },
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (reply: OffThreadReply) => {
        worker.off('exit', onExit);
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'error') reject(fromWorker(reply));
      };
      const onExit = (code: number) =>
        reject(engineError(`OffThreadModule.start: the worker stopped (exit code ${code})`));
      worker.once('message', onMessage);
      worker.once('exit', onExit);
      worker.once('error', (e) => reject(engineError(`OffThreadModule.start: ${e.message}`)));
    });
    try {
      await ready;
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return new OffThreadModule(worker);
  }

  /**
   * Runs the forward pass on a copy of `input` in the worker; resolves with the output as a
   * new tensor of this thread. Calls are answered in order.
   */
  forward(input: Tensor): Promise<Tensor> {
    if (this.#closed) return Promise.reject(engineError('OffThreadModule: closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    let data: TensorData;
    try {
      data = input.data();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.#nextId++;
    return new Promise<Tensor>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const request: OffThreadRequest = { type: 'forward', id, data, shape: [...input.shape] };
      this.#worker.postMessage(request);
    });
  }

  /** Lets the running call finish, then stops the worker; pending calls are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ type: 'close' } satisfies OffThreadRequest);
    await exited;
  }

  #receive(reply: OffThreadReply): void {
    if (reply.type === 'ready') return;
    const id = reply.id;
    const pending = id === null ? undefined : this.#pending.get(id);
    if (pending === undefined || id === null) return;
    this.#pending.delete(id);
    if (reply.type === 'error') {
      pending.reject(fromWorker(reply));
      return;
    }
    try {
      pending.resolve(tensor(reply.data, reply.shape));
    } catch (e) {
      pending.reject(e as Error);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values())
      p.reject(this.#closed ? engineError('OffThreadModule: closed') : error);
    this.#pending.clear();
  }
}
