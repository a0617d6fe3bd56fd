// Entry point of the duiad engine addon.
#include <ATen/Parallel.h>

#include <thread>

#include "common.h"

namespace duiad {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());

  // NOTE: glibc's allocator keeps its defaults; large tensors go through the caching
  // allocator (allocator.cc). Disabling mmap (M_MMAP_MAX 0, a high trim threshold) was
  // tried: the small allocations of JavaScript handles land between freed activation
  // buffers, the heap fragments, and resident memory grew by one activation per op call.

  // libtorch uses one thread here unless told otherwise; default to all cores.
  unsigned cores = std::thread::hardware_concurrency();
  at::set_num_threads(cores > 0 ? static_cast<int>(cores) : 1);

  TensorHandle::Init(env, exports);
  GeneratorHandle::Init(env, exports);
  RegisterTensorOps(env, exports);
  RegisterMathOps(env, exports);
  RegisterNnOps(env, exports);
  RegisterOptimOps(env, exports);
  InstallAllocator(env, exports);
  return exports;
}

}  // namespace duiad

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return duiad::Init(env, exports);
}

NODE_API_MODULE(duiad, InitAddon)
