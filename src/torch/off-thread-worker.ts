/**
 * The worker thread of an OffThreadModule: builds the module from its factory, loads the
 * weights, then answers forward requests one at a time in evaluation mode, without autograd.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';

import { DuiadError } from '../errors.js';
import type { Module } from './nn/module.js';
import type { OffThreadReply, OffThreadRequest } from './off-thread.js';
import { setNumThreads, tensor } from './ops.js';
import { decodeSafetensors } from './safetensors.js';
import { dispose, noGrad, tidy } from './tensor.js';

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
  const error = e instanceof Error ? e : new Error(String(e));
  return {
    type: 'error',
    id,
    name: error.name,
    ...(error instanceof DuiadError ? { code: error.code } : {}),
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
  if (
    module === null ||
    typeof module !== 'object' ||
    typeof (module as Module).forward !== 'function' ||
    typeof (module as Module).loadStateDict !== 'function'
  ) {
    throw new TypeError(
      `OffThreadModule: the factory '${setup.factoryExport}' did not return a Module`,
    );
  }
  const m = module as Module;
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
    port.close();
    return;
  }
  try {
    const reply = tidy(() =>
      noGrad((): OffThreadReply => {
        const y = module.forward(tensor(request.data, request.shape));
        return { type: 'output', id: request.id, data: y.data(), shape: [...y.shape] };
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
