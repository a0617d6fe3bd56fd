/** The engine's public face: tensors, ops, modules, optimisers. */
export * from './tensor.js';
export * from './ops.js';
export * from './nn/module.js';
export * from './nn/layers.js';
export * from './optim.js';
export { EngineLoadError, type DType, type MemoryFormat } from './native.js';
export * from './safetensors.js';
export { OffThreadModule, type OffThreadOptions } from './off-thread.js';
