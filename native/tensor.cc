// Tensor creation from typed arrays, read-back, dtypes, autograd, random numbers, threads.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/Context.h>

#include <torch/csrc/api/include/torch/version.h>

#include <cstring>

#include "common.h"

namespace duiad {
namespace {

at::ScalarType typedArrayDtype(Args& a, size_t i, const Napi::TypedArray& array) {
  switch (array.TypedArrayType()) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_int32_array: return at::kInt;
    case napi_bigint64_array: return at::kLong;
    case napi_uint8_array: return at::kByte;
    default:
      a.typeError(i, "data",
                  "a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array");
  }
}

// fromArray(data, shape): a copy of the typed array `data` viewed with `shape`; the dtype
// follows the array type (Float32Array -> float32, BigInt64Array -> int64, ...).
DUIAD_OP(fromArray) {
  Napi::Value v = a.value(0, "data");
  if (!v.IsTypedArray()) a.typeError(0, "data", "a typed array");
  auto array = v.As<Napi::TypedArray>();
  at::ScalarType type = typedArrayDtype(a, 0, array);
  auto shape = a.shape(1, "shape");
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  if (elements != static_cast<int64_t>(array.ElementLength())) {
    a.rangeError("shape " + formatShape(shape) + " holds " + std::to_string(elements) +
                 " elements but data has " + std::to_string(array.ElementLength()));
  }
  // napi_get_typedarray_info gives the data pointer for any backing store, shared or not.
  void* data = nullptr;
  if (napi_get_typedarray_info(a.env(), array, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok) {
    a.typeError(0, "data", "a readable typed array");
  }
  auto* bytes = static_cast<uint8_t*>(data);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(type));
  if (array.ByteLength() > 0) std::memcpy(out.data_ptr(), bytes, array.ByteLength());
  return wrap(a.env(), out);
}

// toArray(t): a typed array copy of t's values in row-major order (float32 -> Float32Array,
// float64 -> Float64Array, int64 -> BigInt64Array, int32 -> Int32Array, uint8/bool -> Uint8Array;
// other dtypes are converted to float32 first).
DUIAD_OP(toArray) {
  at::Tensor t = a.tensor(0, "tensor").detach();
  at::ScalarType type = t.scalar_type();
  if (type == at::kBool) t = t.to(at::kByte);
  else if (type != at::kFloat && type != at::kDouble && type != at::kLong && type != at::kInt &&
           type != at::kByte) t = t.to(at::kFloat);
  t = t.contiguous();
  size_t bytes = t.numel() * t.element_size();
  auto buffer = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  size_t n = t.numel();
  switch (t.scalar_type()) {
    case at::kDouble: return Napi::Float64Array::New(a.env(), n, buffer, 0);
    case at::kLong: return Napi::BigInt64Array::New(a.env(), n, buffer, 0);
    case at::kInt: return Napi::Int32Array::New(a.env(), n, buffer, 0);
    case at::kByte: return Napi::Uint8Array::New(a.env(), n, buffer, 0);
    default: return Napi::Float32Array::New(a.env(), n, buffer, 0);
  }
}

// item(t): the single value of a one-element tensor as a number.
DUIAD_OP(item) {
  at::Tensor t = a.tensor(0, "tensor");
  if (t.numel() != 1) a.rangeError("tensor must hold exactly one element (got shape " + formatShape(t.sizes()) + ")");
  return Napi::Number::New(a.env(), t.item().toDouble());
}

DUIAD_OP(shape) {
  at::Tensor t = a.tensor(0, "tensor");
  auto sizes = t.sizes();
  auto out = Napi::Array::New(a.env(), sizes.size());
  for (size_t k = 0; k < sizes.size(); k++) out.Set(static_cast<uint32_t>(k), Napi::Number::New(a.env(), static_cast<double>(sizes[k])));
  return out;
}

DUIAD_OP(dtype) { return Napi::String::New(a.env(), dtypeName(a.tensor(0, "tensor").scalar_type())); }

DUIAD_OP(toDtype) {
  at::Tensor t = a.tensor(0, "tensor");
  return wrap(a.env(), t.to(a.dtype(1, "dtype")));
}

// Creation with a shape: zeros, ones, full(value).
DUIAD_OP(zeros) { return wrap(a.env(), at::zeros(a.shape(0, "shape"), at::TensorOptions().dtype(a.has(1) ? a.dtype(1, "dtype") : at::kFloat))); }
DUIAD_OP(ones) { return wrap(a.env(), at::ones(a.shape(0, "shape"), at::TensorOptions().dtype(a.has(1) ? a.dtype(1, "dtype") : at::kFloat))); }
DUIAD_OP(full) {
  auto shape = a.shape(0, "shape");
  double value = a.number(1, "value");
  return wrap(a.env(), at::full(shape, value, at::TensorOptions().dtype(a.has(2) ? a.dtype(2, "dtype") : at::kFloat)));
}
DUIAD_OP(arange) {
  int64_t n = a.integer(0, "end", 0, int64_t{1} << 36);
  return wrap(a.env(), at::arange(n, at::TensorOptions().dtype(at::kLong)));
}
DUIAD_OP(eye) {
  int64_t n = a.integer(0, "n", 0, int64_t{1} << 18);
  return wrap(a.env(), at::eye(n, at::TensorOptions().dtype(at::kFloat)));
}

// Random numbers; the last argument is an optional Generator (else the global one).
DUIAD_OP(randn) {
  auto shape = a.shape(0, "shape");
  at::Generator* g = a.generator(1, "generator");
  return wrap(a.env(), g ? at::randn(shape, *g) : at::randn(shape));
}
DUIAD_OP(rand) {
  auto shape = a.shape(0, "shape");
  at::Generator* g = a.generator(1, "generator");
  return wrap(a.env(), g ? at::rand(shape, *g) : at::rand(shape));
}
DUIAD_OP(randint) {
  int64_t low = a.integer(0, "low", -(int64_t{1} << 53), int64_t{1} << 53);
  int64_t high = a.integer(1, "high", low + 1, int64_t{1} << 53);
  auto shape = a.shape(2, "shape");
  at::Generator* g = a.generator(3, "generator");
  auto opts = at::TensorOptions().dtype(at::kLong);
  return wrap(a.env(), g ? at::randint(low, high, shape, *g, opts) : at::randint(low, high, shape, opts));
}
DUIAD_OP(randperm) {
  int64_t n = a.integer(0, "n", 0, int64_t{1} << 36);
  at::Generator* g = a.generator(1, "generator");
  auto opts = at::TensorOptions().dtype(at::kLong);
  return wrap(a.env(), g ? at::randperm(n, *g, opts) : at::randperm(n, opts));
}
DUIAD_OP(manualSeed) {
  at::manual_seed(static_cast<uint64_t>(a.integer(0, "seed", 0, (int64_t{1} << 53) - 1)));
  return a.env().Undefined();
}

// In-place initialisers used by nn modules: uniform_(t, low, high, generator?),
// normal_(t, mean, std, generator?).
DUIAD_OP(uniform_) {
  at::Tensor t = a.tensor(0, "tensor");
  a.floating(t, "tensor");
  double low = a.number(1, "low"), high = a.number(2, "high");
  if (!(low <= high)) a.rangeError("argument 'low' must not exceed 'high'");
  at::NoGradGuard noGrad;
  t.uniform_(low, high, a.generator(3, "generator") ? c10::optional<at::Generator>(*a.generator(3, "generator")) : c10::nullopt);
  return a.env().Undefined();
}
DUIAD_OP(normal_) {
  at::Tensor t = a.tensor(0, "tensor");
  a.floating(t, "tensor");
  double mean = a.number(1, "mean"), std = a.number(2, "std");
  if (!(std >= 0)) a.rangeError("argument 'std' must be non-negative");
  at::NoGradGuard noGrad;
  t.normal_(mean, std, a.generator(3, "generator") ? c10::optional<at::Generator>(*a.generator(3, "generator")) : c10::nullopt);
  return a.env().Undefined();
}
// copy_(destination, source): copies values (broadcast) into destination without autograd.
DUIAD_OP(copy_) {
  at::Tensor dst = a.tensor(0, "destination");
  at::Tensor src = a.tensor(1, "source");
  at::NoGradGuard noGrad;
  dst.copy_(src);
  return a.env().Undefined();
}
DUIAD_OP(fill_) {
  at::Tensor t = a.tensor(0, "tensor");
  double value = a.number(1, "value");
  at::NoGradGuard noGrad;
  t.fill_(value);
  return a.env().Undefined();
}

DUIAD_OP(clone) { return wrap(a.env(), a.tensor(0, "tensor").clone()); }
DUIAD_OP(detach) { return wrap(a.env(), a.tensor(0, "tensor").detach()); }
DUIAD_OP(contiguous) {
  at::Tensor t = a.tensor(0, "tensor");
  std::string format = a.has(1) ? a.string(1, "format") : "contiguous";
  if (format == "channelsLast") {
    a.rank(t, "tensor", 4, 4);
    return wrap(a.env(), t.contiguous(at::MemoryFormat::ChannelsLast));
  }
  if (format != "contiguous") a.rangeError("argument 'format' must be 'contiguous' or 'channelsLast' (got '" + format + "')");
  return wrap(a.env(), t.contiguous());
}
at::MemoryFormat memoryFormatArg(Args& a, size_t i, const at::Tensor& t) {
  std::string format = a.string(i, "format");
  if (format == "channelsLast") {
    a.rank(t, "tensor", 4, 4);
    return at::MemoryFormat::ChannelsLast;
  }
  if (format != "contiguous") {
    a.rangeError("argument 'format' must be 'contiguous' or 'channelsLast' (got '" + format + "')");
  }
  return at::MemoryFormat::Contiguous;
}

// The tensor `t` moved to `device` and/or relaid in `format`, as a new leaf that keeps
// requires_grad; its gradient (if any) follows it.
at::Tensor relaid(const at::Tensor& t, c10::optional<at::Device> device, at::MemoryFormat format) {
  at::Tensor out;
  {
    at::NoGradGuard noGrad;
    at::Tensor moved = device ? t.detach().to(*device) : t.detach();
    out = moved.contiguous(format);
  }
  if (t.requires_grad()) out.requires_grad_(true);
  if (t.grad().defined()) {
    at::NoGradGuard noGrad;
    at::Tensor g = device ? t.grad().to(*device) : t.grad();
    out.mutable_grad() = g.contiguous(format);
  }
  return out;
}

// A leaf handle can have its tensor swapped; a tensor inside an autograd graph cannot, since
// the graph would keep using the old one.
TensorHandle* leafHandle(Args& a) {
  TensorHandle* h = a.handle(0, "tensor");
  a.tensor(0, "tensor");
  if (h->tensor().requires_grad() && !h->tensor().is_leaf()) {
    a.rangeError("only leaf tensors (parameters, buffers, inputs) can be changed in place");
  }
  return h;
}

// setMemoryFormat_(t, format): re-lays the tensor held by handle t in memory ('channelsLast'
// for rank 4, or 'contiguous') in place of the old one; the handle (and every JavaScript
// object that holds it) sees the new layout. Other handles on the old memory keep it.
DUIAD_OP(setMemoryFormat_) {
  TensorHandle* h = leafHandle(a);
  at::MemoryFormat format = memoryFormatArg(a, 1, h->tensor());
  if (h->tensor().is_contiguous(format)) return a.env().Undefined();
  h->Replace(relaid(h->tensor(), c10::nullopt, format));
  return a.env().Undefined();
}

// Devices: 'cpu' or 'cuda' / 'cuda:N'. CUDA needs a CUDA build of libtorch (LIBTORCH=...)
// and a GPU; both are checked at run time so the same code builds against either library.
at::Device deviceArg(Args& a, size_t i) {
  std::string name = a.string(i, "device");
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int64_t index = 0;
    if (name.size() > 5) {
      std::string digits = name.substr(5);
      if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) {
        a.rangeError("argument 'device' must be 'cpu', 'cuda' or 'cuda:N' (got '" + name + "')");
      }
      index = std::stoll(digits);
    }
    if (!at::hasCUDA()) {
      a.rangeError("device '" + name + "' is not available: this libtorch build has no CUDA " +
                   "support or no GPU is visible (build against a CUDA libtorch with LIBTORCH=...)");
    }
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  a.rangeError("argument 'device' must be 'cpu', 'cuda' or 'cuda:N' (got '" + name + "')");
}

DUIAD_OP(device) { return Napi::String::New(a.env(), a.tensor(0, "tensor").device().str()); }
DUIAD_OP(cudaAvailable) { return Napi::Boolean::New(a.env(), at::hasCUDA()); }

// toDevice(t, device): a copy of t on `device` (t itself when already there).
DUIAD_OP(toDevice) {
  at::Tensor t = a.tensor(0, "tensor");
  return wrap(a.env(), t.to(deviceArg(a, 1)));
}

// setDevice_(t, device): moves the leaf tensor held by handle t to `device` in place (used to
// move a module's parameters and buffers, which optimisers hold by handle).
DUIAD_OP(setDevice_) {
  TensorHandle* h = leafHandle(a);
  at::Device device = deviceArg(a, 1);
  if (h->tensor().device() == device) return a.env().Undefined();
  auto format = h->tensor().dim() == 4 && h->tensor().is_contiguous(at::MemoryFormat::ChannelsLast)
                    ? at::MemoryFormat::ChannelsLast
                    : at::MemoryFormat::Contiguous;
  h->Replace(relaid(h->tensor(), device, format));
  return a.env().Undefined();
}

// setAutocast(enabled): CPU automatic mixed precision in bfloat16 (convolutions and matrix
// products run in bfloat16, reductions stay in float32), as torch.autocast('cpu') does.
DUIAD_OP(setAutocast) {
  bool enabled = a.boolean(0, "enabled");
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  if (!enabled) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(enabled);
  return a.env().Undefined();
}
DUIAD_OP(isAutocast) { return Napi::Boolean::New(a.env(), at::autocast::is_cpu_enabled()); }

DUIAD_OP(isChannelsLast) {
  at::Tensor t = a.tensor(0, "tensor");
  return Napi::Boolean::New(a.env(), t.dim() == 4 && t.is_contiguous(at::MemoryFormat::ChannelsLast));
}

// Autograd.
DUIAD_OP(setRequiresGrad) {
  at::Tensor t = a.tensor(0, "tensor");
  bool flag = a.boolean(1, "requiresGrad");
  if (flag) a.floating(t, "tensor");
  if (flag && !t.is_leaf()) a.rangeError("only leaf tensors can be made to require gradients");
  t.requires_grad_(flag);
  return a.env().Undefined();
}
DUIAD_OP(requiresGrad) { return Napi::Boolean::New(a.env(), a.tensor(0, "tensor").requires_grad()); }
DUIAD_OP(grad) {
  at::Tensor g = a.tensor(0, "tensor").grad();
  return g.defined() ? wrap(a.env(), g) : a.env().Null();
}
DUIAD_OP(zeroGrad) {
  for (auto& t : a.tensorList(0, "tensors", 0)) {
    if (t.grad().defined()) t.mutable_grad().reset();
  }
  return a.env().Undefined();
}
DUIAD_OP(backward) {
  at::Tensor t = a.tensor(0, "tensor");
  if (!t.requires_grad()) a.rangeError("tensor does not require gradients (nothing upstream does)");
  if (a.has(1)) {
    t.backward(a.tensor(1, "gradient"));
  } else {
    if (t.numel() != 1) a.rangeError("backward without 'gradient' needs a one-element tensor (got shape " + formatShape(t.sizes()) + ")");
    t.backward();
  }
  return a.env().Undefined();
}
DUIAD_OP(setGradEnabled) {
  c10::GradMode::set_enabled(a.boolean(0, "enabled"));
  return a.env().Undefined();
}
DUIAD_OP(isGradEnabled) { return Napi::Boolean::New(a.env(), c10::GradMode::is_enabled()); }

// Threads and bookkeeping.
DUIAD_OP(setNumThreads) {
  at::set_num_threads(static_cast<int>(a.integer(0, "threads", 1, 1024)));
  return a.env().Undefined();
}
DUIAD_OP(getNumThreads) { return Napi::Number::New(a.env(), at::get_num_threads()); }
DUIAD_OP(liveTensors) { return Napi::Number::New(a.env(), static_cast<double>(TensorHandle::LiveCount())); }
DUIAD_OP(version) { return Napi::String::New(a.env(), TORCH_VERSION); }
DUIAD_OP(dispose) {
  a.handle(0, "tensor")->Dispose();
  return a.env().Undefined();
}
DUIAD_OP(numel) { return Napi::Number::New(a.env(), static_cast<double>(a.tensor(0, "tensor").numel())); }

}  // namespace

void RegisterTensorOps(Napi::Env env, Napi::Object exports) {
  exportBinding(env, exports, "fromArray", fromArray);
  exportBinding(env, exports, "toArray", toArray);
  exportBinding(env, exports, "item", item);
  exportBinding(env, exports, "shape", shape);
  exportBinding(env, exports, "dtype", dtype);
  exportBinding(env, exports, "toDtype", toDtype);
  exportBinding(env, exports, "zeros", zeros);
  exportBinding(env, exports, "ones", ones);
  exportBinding(env, exports, "full", full);
  exportBinding(env, exports, "arange", arange);
  exportBinding(env, exports, "eye", eye);
  exportBinding(env, exports, "randn", randn);
  exportBinding(env, exports, "rand", rand);
  exportBinding(env, exports, "randint", randint);
  exportBinding(env, exports, "randperm", randperm);
  exportBinding(env, exports, "manualSeed", manualSeed);
  exportBinding(env, exports, "uniform_", uniform_);
  exportBinding(env, exports, "normal_", normal_);
  exportBinding(env, exports, "copy_", copy_);
  exportBinding(env, exports, "fill_", fill_);
  exportBinding(env, exports, "clone", clone);
  exportBinding(env, exports, "detach", detach);
  exportBinding(env, exports, "contiguous", contiguous);
  exportBinding(env, exports, "isChannelsLast", isChannelsLast);
  exportBinding(env, exports, "setMemoryFormat_", setMemoryFormat_);
  exportBinding(env, exports, "device", device);
  exportBinding(env, exports, "cudaAvailable", cudaAvailable);
  exportBinding(env, exports, "toDevice", toDevice);
  exportBinding(env, exports, "setDevice_", setDevice_);
  exportBinding(env, exports, "setAutocast", setAutocast);
  exportBinding(env, exports, "isAutocast", isAutocast);
  exportBinding(env, exports, "setRequiresGrad", setRequiresGrad);
  exportBinding(env, exports, "requiresGrad", requiresGrad);
  exportBinding(env, exports, "grad", grad);
  exportBinding(env, exports, "zeroGrad", zeroGrad);
  exportBinding(env, exports, "backward", backward);
  exportBinding(env, exports, "setGradEnabled", setGradEnabled);
  exportBinding(env, exports, "isGradEnabled", isGradEnabled);
  exportBinding(env, exports, "setNumThreads", setNumThreads);
  exportBinding(env, exports, "getNumThreads", getNumThreads);
  exportBinding(env, exports, "liveTensors", liveTensors);
  exportBinding(env, exports, "version", version);
  exportBinding(env, exports, "dispose", dispose);
  exportBinding(env, exports, "numel", numel);
}

}  // namespace duiad
