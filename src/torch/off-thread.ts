/**
 * A module whose forward pass runs off the event loop: a worker thread builds the module from
 * a factory, loads the given weights, switches to evaluation mode and answers `forward` calls
 * one at a time, in order, without autograd. The calling thread keeps serving while a batch
 * runs.
 *
 * The factory is named by module path (an ES module exporting a function that returns a
 * Module), because a function cannot be sent to another thread; the weights travel as
 * safetensors bytes. Call `close()` when done: it answers the calls already sent, then stops
 * the worker. An idle, unclosed module does not keep the process alive.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import {
  DuiadError,
  type ErrorCode,
  FormatError,
  ModelError,
  NotFoundError,
  ShapeError,
  UsageError,
  ValueError,
} from '../errors.js';
import { Module } from './nn/module.js';
import type { DType, TensorData } from './native.js';
import { tensor } from './ops.js';
import { encodeSafetensors } from './safetensors.js';
import { Tensor } from './tensor.js';

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
  /** How long building the module may take, in milliseconds (default 300,000). */
  startTimeoutMs?: number;
}

/** Messages between this thread and the worker. */
export type OffThreadRequest =
  | { type: 'forward'; id: number; data: TensorData; shape: number[]; dtype: DType }
  | { type: 'close' };
export type OffThreadReply =
  | { type: 'ready' }
  | { type: 'output'; id: number; data: TensorData; shape: number[]; dtype: DType }
  | { type: 'error'; id: number | null; name: string; code?: string; message: string }
  | { type: 'closed' };

type ErrorReply = Extract<OffThreadReply, { type: 'error' }>;

const engineError = (message: string) => new DuiadError('E_NATIVE', message);

const duiadErrors: Readonly<Record<string, new (message: string) => DuiadError>> = {
  UsageError,
  NotFoundError,
  FormatError,
  ShapeError,
  ValueError,
  ModelError,
};

/** Rebuilds an error sent from the worker with the class it had there, where that is known. */
function fromWorker(reply: ErrorReply): Error {
  const known = duiadErrors[reply.name];
  if (known) return new known(reply.message);
  if (reply.name === 'TypeError') return new TypeError(reply.message);
  if (reply.name === 'RangeError') return new RangeError(reply.message);
  if (reply.code === 'ERR_MODULE_NOT_FOUND') return new NotFoundError(reply.message);
  if (reply.name === 'DuiadError' && reply.code !== undefined) {
    return new DuiadError(reply.code as ErrorCode, reply.message);
  }
  const error = new Error(reply.message);
  error.name = reply.name;
  return error;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A tensor of `dtype` from data whose array type may be wider (bool, bfloat16 travel widened). */
function rebuild(data: TensorData, shape: number[], dtype: DType): Tensor {
  const t = tensor(data, shape);
  if (t.dtype === dtype) return t;
  const converted = t.to(dtype);
  t.dispose();
  return converted;
}

interface Pending {
  resolve: (t: Tensor) => void;
  reject: (e: Error) => void;
}

/** How long a closing worker may take to stop by itself before it is terminated. */
const closeGraceMs = 5_000;

/** A module served by a worker thread. Start it with `OffThreadModule.start`. */
export class OffThreadModule {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | null = null;
  #closing: Promise<void> | null = null;

  private constructor(worker: Worker, exited: Promise<void>) {
    this.#worker = worker;
    this.#exited = exited;
    worker.on('message', (reply: OffThreadReply) => this.#receive(reply));
    worker.on('error', (e: unknown) =>
      this.#fail(engineError(`off-thread module: the worker failed: ${messageOf(e)}`)),
    );
    worker.on('exit', (code) =>
      this.#fail(engineError(`off-thread module: the worker stopped (exit code ${code})`)),
    );
    // Idle, the worker does not keep the process alive; a call in flight does.
    worker.unref();
  }

  /** Starts the worker and resolves once the module is built and its weights loaded. */
  static async start(options: OffThreadOptions): Promise<OffThreadModule> {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('OffThreadModule.start: options must be an object');
    }
    const { factoryModule, threads, startTimeoutMs = 300_000 } = options;
    const factoryExport = options.factoryExport ?? 'default';
    if (typeof factoryModule !== 'string' || factoryModule === '') {
      throw new TypeError('OffThreadModule.start: factoryModule must be a path or file: URL');
    }
    if (typeof factoryExport !== 'string' || factoryExport === '') {
      throw new TypeError('OffThreadModule.start: factoryExport must be a non-empty string');
    }
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
      throw new RangeError(
        `OffThreadModule.start: threads must be an integer in [1, 1024] (got ${String(threads)})`,
      );
    }
    if (!(Number.isFinite(startTimeoutMs) && startTimeoutMs > 0)) {
      throw new RangeError(
        `OffThreadModule.start: startTimeoutMs must be a positive number (got ${String(startTimeoutMs)})`,
      );
    }
    let state: Uint8Array;
    if (options.state instanceof Uint8Array) state = options.state;
    else if (options.state instanceof Module) state = encodeSafetensors(options.state.stateDict());
    else throw new TypeError('OffThreadModule.start: state must be a Module or safetensors bytes');

    const url = factoryModule.startsWith('file:')
      ? factoryModule
      : pathToFileURL(factoryModule).href;
    const worker = new Worker(fileURLToPath(new URL('./off-thread-worker.js', import.meta.url)), {
      workerData: { factoryUrl: url, factoryExport, state, threads },
    });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (reply: OffThreadReply) => {
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'error') reject(fromWorker(reply));
        else reject(engineError(`OffThreadModule.start: unexpected reply '${reply.type}'`));
      });
      worker.once('error', (e: unknown) =>
        reject(engineError(`OffThreadModule.start: the worker failed: ${messageOf(e)}`)),
      );
      worker.once('exit', (code: number) =>
        reject(
          engineError(
            code === 13
              ? `OffThreadModule.start: ${url} never finished loading (a top-level await that never settles)`
              : `OffThreadModule.start: the worker stopped (exit code ${code})`,
          ),
        ),
      );
      timer = setTimeout(
        () => reject(engineError(`OffThreadModule.start: not ready after ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
    });
    try {
      await ready;
    } catch (e) {
      await worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return new OffThreadModule(worker, exited);
  }

  /**
   * Runs the forward pass on a copy of `input` in the worker; resolves with the output as a
   * new tensor of this thread, of the dtype the module returned. Calls are answered in order.
   */
  forward(input: Tensor): Promise<Tensor> {
    if (this.#closing) return Promise.reject(engineError('OffThreadModule: closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    if (!(input instanceof Tensor)) {
      return Promise.reject(new TypeError('OffThreadModule.forward: input must be a Tensor'));
    }
    let request: OffThreadRequest;
    try {
      const shape = [...input.shape];
      request = {
        type: 'forward',
        id: this.#nextId++,
        data: input.data(),
        shape,
        dtype: input.dtype,
      };
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<Tensor>((resolve, reject) => {
      this.#worker.postMessage(request);
      this.#pending.set(request.id, { resolve, reject });
      this.#worker.ref();
    });
  }

  /**
   * Answers the calls already sent, then stops the worker (terminating it if it has not
   * stopped within a grace period, say because the factory module left a timer running).
   * Later `forward` calls are refused. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#failure === null) {
      this.#worker.ref();
      this.#worker.postMessage({ type: 'close' } satisfies OffThreadRequest);
      const grace = new Promise<'late'>((resolve) =>
        setTimeout(() => resolve('late'), closeGraceMs).unref(),
      );
      if ((await Promise.race([this.#exited, grace])) === 'late') await this.#worker.terminate();
    }
    await this.#exited;
  }

  #receive(reply: OffThreadReply): void {
    if (reply.type === 'closed') {
      // The module is freed; anything still running in the thread is the factory's own.
      void this.#worker.terminate();
      return;
    }
    if (reply.type === 'ready' || reply.id === null) return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.type === 'error') {
      pending.reject(fromWorker(reply));
      return;
    }
    try {
      pending.resolve(rebuild(reply.data, reply.shape, reply.dtype));
    } catch (e) {
      pending.reject(e as Error);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
