// Entry point of the duiad engine addon.
#include <ATen/Parallel.h>
#include <malloc.h>

#include <thread>

#include "common.h"

namespace duiad {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());

  // glibc returns large activation buffers to the system and maps them again on every
  // training step; keeping them in the heap made training visibly faster.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  // libtorch uses one thread here unless told otherwise; default to all cores.
  unsigned cores = std::thread::hardware_concurrency();
  at::set_num_threads(cores > 0 ? static_cast<int>(cores) : 1);

  TensorHandle::Init(env, exports);
  GeneratorHandle::Init(env, exports);
  RegisterTensorOps(env, exports);
  RegisterMathOps(env, exports);
  RegisterNnOps(env, exports);
  RegisterOptimOps(env, exports);
  return exports;
}

}  // namespace duiad

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return duiad::Init(env, exports);
}

NODE_API_MODULE(duiad, InitAddon)
