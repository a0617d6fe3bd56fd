// A caching CPU allocator for large tensors. A training or inference loop allocates the
// same activation sizes on every step; this keeps freed blocks of 256 KiB and more, mapped
// and already faulted in, and hands them back for the next request of the same size.
// Without it, glibc either returns them to the system (page faults on every step) or keeps
// them in its heap, where the small, long-lived allocations of JavaScript handles land
// between them and the heap fragments: resident memory then grew by hundreds of MB per
// ResNet-18 batch. Smaller requests go to libtorch's default allocator.
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "common.h"

namespace duiad {
namespace {

constexpr size_t kMinCached = size_t{256} << 10;
constexpr size_t kPage = 4096;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* fallback, size_t maxCachedBytes)
      : fallback_(fallback), fallbackDeleter_(fallback->raw_deleter()), maxCached_(maxCachedBytes) {}

  // oneDNN frees through raw_deleter() whatever it got from raw_allocate(), small or large.
  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::Release; }

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached && fallbackDeleter_ != nullptr) {
      // The default allocator's blocks have data == context, so its raw deleter frees them.
      c10::DataPtr small = fallback_->allocate(n);
      void* p = small.release_context();
      return {p, p, fallbackDeleter_, c10::Device(c10::DeviceType::CPU)};
    }
    size_t size = (n + kPage - 1) / kPage * kPage;
    void* p = take(size);
    if (p == nullptr) {
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.mapped += size;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[p] = size;
    }
    return {p, p, &CachingCpuAllocator::Release, c10::Device(c10::DeviceType::CPU)};
  }

  static void Release(void* p) { instance_->give(p); }

  // Unmaps every cached block.
  void emptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, block] : free_) {
      munmap(block, size);
      stats_.mapped -= size;
    }
    free_.clear();
    stats_.cached = 0;
  }

  struct Stats {
    size_t mapped = 0;  // bytes mapped by this allocator (live + cached)
    size_t cached = 0;  // bytes in freed blocks kept for reuse
    size_t hits = 0, misses = 0;
  };
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  static CachingCpuAllocator* instance_;

 private:
  void* take(size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end()) {
      stats_.misses++;
      return nullptr;
    }
    void* p = it->second;
    free_.erase(it);
    stats_.cached -= size;
    stats_.hits++;
    return p;
  }

  void give(void* p) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) {
      // A small block from the default allocator, freed through raw_deleter().
      lock.unlock();
      if (p != nullptr) fallbackDeleter_(p);
      return;
    }
    size_t size = it->second;
    live_.erase(it);
    if (stats_.cached + size > maxCached_) {
      munmap(p, size);
      stats_.mapped -= size;
      return;
    }
    free_.emplace(size, p);
    stats_.cached += size;
  }

  c10::Allocator* fallback_;
  c10::DeleterFnPtr fallbackDeleter_;
  size_t maxCached_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable Stats stats_;
};

CachingCpuAllocator* CachingCpuAllocator::instance_ = nullptr;

// allocatorStats(): { mappedBytes, cachedBytes, hits, misses } of the large-block cache.
DUIAD_OP(allocatorStats) {
  auto s = CachingCpuAllocator::instance_->stats();
  auto out = Napi::Object::New(a.env());
  out.Set("mappedBytes", static_cast<double>(s.mapped));
  out.Set("cachedBytes", static_cast<double>(s.cached));
  out.Set("hits", static_cast<double>(s.hits));
  out.Set("misses", static_cast<double>(s.misses));
  return out;
}

// emptyCache(): returns every cached (free) large block to the system.
DUIAD_OP(emptyCache) {
  CachingCpuAllocator::instance_->emptyCache();
  return a.env().Undefined();
}

}  // namespace

// Installs the caching allocator once per process; DUIAD_CPU_CACHE_MB caps the bytes kept
// in freed blocks (default 4096).
void InstallAllocator(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    size_t capMb = 4096;
    if (const char* v = std::getenv("DUIAD_CPU_CACHE_MB")) {
      char* end = nullptr;
      unsigned long long parsed = std::strtoull(v, &end, 10);
      if (end != v && *end == '\0' && parsed <= (1ull << 30)) capMb = static_cast<size_t>(parsed);
    }
    // Leaked on purpose: tensors may outlive every JavaScript environment.
    CachingCpuAllocator::instance_ = new CachingCpuAllocator(c10::GetCPUAllocator(), capMb << 20);
    if (std::getenv("DUIAD_NO_BLOCK_CACHE") == nullptr) {
      c10::SetCPUAllocator(CachingCpuAllocator::instance_, /*priority=*/1);
    }
  });
  exportBinding(env, exports, "allocatorStats", allocatorStats);
  exportBinding(env, exports, "emptyCache", emptyCache);
}

}  // namespace duiad
