/**
 * The worker thread of an OffThreadModule: builds the module from its factory, loads the
 * weights, then answers forward requests one at a time in evaluation mode, without autograd.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';

import { Module } from './nn/module.js';
import type { OffThreadReply, OffThreadRequest } from './off-thread.js';
import { setNumThreads, tensor } from './ops.js';
import { decodeSafetensors } from './safetensors.js';
import { Tensor, dispose, noGrad, tidy } from './tensor.js';

interface Setup {
  factoryUrl: string;
  factoryExport: string;
  state: Uint8Array;
  threads?: number;
}

function requirePort(): MessagePort {
  if (parentPort === null) throw new Error('off-thread worker: must run in a worker thread');
  return parentPort;
}

const port = requirePort();
const setup = workerData as Setup;
const post = (reply: OffThreadReply) => port.postMessage(reply);

function errorReply(id: number | null, e: unknown): OffThreadReply {
  const error = e instanceof Error ? e : new Error(`a non-error was thrown: ${String(e)}`);
  const code = (error as { code?: unknown }).code;
  return {
    type: 'error',
    id,
    name: error.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: error.message,
  };
}

async function build(): Promise<Module> {
  if (setup.threads !== undefined) setNumThreads(setup.threads);
  const exports = (await import(setup.factoryUrl)) as Record<string, unknown>;
  const factory = exports[setup.factoryExport];
  if (typeof factory !== 'function') {
    throw new TypeError(
      `OffThreadModule: ${setup.factoryUrl} has no function export '${setup.factoryExport}'`,
    );
  }
  const module = (factory as () => unknown)();
  if (!(module instanceof Module)) {
    throw new TypeError(
      `OffThreadModule: the factory '${setup.factoryExport}' did not return a Module`,
    );
  }
  const m = module;
  const { tensors } = decodeSafetensors(setup.state, 'the state sent to the worker');
  try {
    m.loadStateDict(tensors);
  } finally {
    dispose([...tensors.values()]);
  }
  return m.eval();
}

async function serve(module: Module): Promise<void> {
  post({ type: 'ready' });
  port.on('message', (request: OffThreadRequest) => answer(module, request));
}

function answer(module: Module, request: OffThreadRequest): void {
  if (request.type === 'close') {
    module.dispose();
    post({ type: 'closed' });
    port.close();
    return;
  }
  try {
    const reply = tidy(() =>
      noGrad((): OffThreadReply => {
        let x = tensor(request.data, request.shape);
        if (x.dtype !== request.dtype) x = x.to(request.dtype);
        const y: unknown = module.forward(x);
        if (!(y instanceof Tensor)) {
          throw new TypeError(
            `OffThreadModule: the module's forward returned ${typeof y}, not a Tensor`,
          );
        }
        return {
          type: 'output',
          id: request.id,
          data: y.data(),
          shape: [...y.shape],
          dtype: y.dtype,
        };
      }),
    );
    post(reply);
  } catch (e) {
    post(errorReply(request.id, e));
  }
}

try {
  await serve(await build());
} catch (e) {
  // Nothing is left to keep the thread alive: it ends once the reply is sent.
  post(errorReply(null, e));
  port.close();
}
