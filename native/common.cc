#include "common.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <functional>
#include <sstream>

namespace duiad {

std::atomic<int64_t> TensorHandle::live_{0};

// Largest element count a tensor made from JavaScript may have (2^36, 256 GiB of float32):
// anything larger is a mistake, and refusing it beats an allocation failure.
constexpr int64_t kMaxElements = int64_t{1} << 36;

// ---------------------------------------------------------------------------------------
// TensorHandle

Napi::Object TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "TensorHandle",
                                    {InstanceMethod("dispose", &TensorHandle::JsDispose),
                                     InstanceAccessor("disposed", &TensorHandle::JsDisposed, nullptr)});
  env.GetInstanceData<AddonData>()->tensorConstructor = Napi::Persistent(ctor);
  exports.Set("TensorHandle", ctor);
  return exports;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  // Only Wrap() may create handles: it passes a pointer to the tensor as an External.
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "TensorHandle: cannot be constructed from JavaScript");
  }
  tensor_ = *info[0].As<Napi::External<at::Tensor>>().Data();
  live_++;
}

TensorHandle::~TensorHandle() { Dispose(); }

void TensorHandle::Dispose() {
  if (tensor_.has_value()) {
    tensor_.reset();
    live_--;
  }
}

Napi::Value TensorHandle::JsDispose(const Napi::CallbackInfo& info) {
  Dispose();
  return info.Env().Undefined();
}

Napi::Value TensorHandle::JsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Object TensorHandle::Wrap(Napi::Env env, at::Tensor tensor) {
  auto external = Napi::External<at::Tensor>::New(env, &tensor);
  return env.GetInstanceData<AddonData>()->tensorConstructor.New({external});
}

bool TensorHandle::IsHandle(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() &&
         value.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->tensorConstructor.Value());
}

// ---------------------------------------------------------------------------------------
// GeneratorHandle

Napi::Object GeneratorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "GeneratorHandle", {});
  env.GetInstanceData<AddonData>()->generatorConstructor = Napi::Persistent(ctor);
  exports.Set("GeneratorHandle", ctor);
  return exports;
}

static uint64_t seedFrom(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "GeneratorHandle: argument 'seed' must be a number");
  }
  double seed = info[0].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(seed) || seed < 0 || seed > 9007199254740991.0 || std::floor(seed) != seed) {
    throw Napi::RangeError::New(info.Env(),
                                "GeneratorHandle: argument 'seed' must be an integer in [0, 2^53)");
  }
  return static_cast<uint64_t>(seed);
}

GeneratorHandle::GeneratorHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<GeneratorHandle>(info),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seedFrom(info))) {}

bool GeneratorHandle::IsHandle(Napi::Env env, const Napi::Value& value) {
  return value.IsObject() &&
         value.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->generatorConstructor.Value());
}

// ---------------------------------------------------------------------------------------
// Args

// The handle behind `v`, or nullptr when `v` is not a real TensorHandle (an object that only
// shares its prototype passes instanceof but has nothing wrapped).
static TensorHandle* unwrapTensor(Napi::Env env, const Napi::Value& v) {
  if (!TensorHandle::IsHandle(env, v)) return nullptr;
  try {
    return TensorHandle::Unwrap(v.As<Napi::Object>());
  } catch (const Napi::Error&) {
    return nullptr;
  }
}

static std::string jsTypeName(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) {
    std::ostringstream s;
    s << "number " << v.As<Napi::Number>().DoubleValue();
    return s.str();
  }
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsArray()) return "array";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsFunction()) return "function";
  return "object";
}

Napi::Value Args::value(size_t i, const char* name) {
  if (i >= info_.Length()) typeError(i, name, "an argument (it is missing)");
  return info_[i];
}

void Args::typeError(size_t i, const char* name, const std::string& expected) {
  std::string got = i < info_.Length() ? jsTypeName(info_[i]) : "nothing";
  throw Napi::TypeError::New(env(), std::string(op_) + ": argument '" + name + "' must be " +
                                        expected + " (got " + got + ")");
}

void Args::rangeError(const std::string& message) {
  throw Napi::RangeError::New(env(), std::string(op_) + ": " + message);
}

TensorHandle* Args::handle(size_t i, const char* name) {
  Napi::Value v = value(i, name);
  auto* h = unwrapTensor(env(), v);
  if (h == nullptr) typeError(i, name, "a Tensor");
  if (h->disposed()) {
    throw Napi::TypeError::New(env(), std::string(op_) + ": argument '" + name +
                                          "' is a disposed Tensor");
  }
  return h;
}

at::Tensor Args::tensor(size_t i, const char* name) {
  const at::Tensor& t = handle(i, name)->tensor();
  seen_.emplace_back(name, t.sizes().vec());
  return t;
}

c10::optional<at::Tensor> Args::optTensor(size_t i, const char* name) {
  if (!has(i)) return c10::nullopt;
  return tensor(i, name);
}

std::vector<at::Tensor> Args::tensorList(size_t i, const char* name, size_t minLength) {
  Napi::Value v = value(i, name);
  if (!v.IsArray()) typeError(i, name, "an array of Tensors");
  auto array = v.As<Napi::Array>();
  if (array.Length() < minLength) {
    rangeError(std::string("argument '") + name + "' must hold at least " +
               std::to_string(minLength) + " Tensors (got " + std::to_string(array.Length()) + ")");
  }
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t k = 0; k < array.Length(); k++) {
    Napi::Value item = array.Get(k);
    std::string itemName = std::string(name) + "[" + std::to_string(k) + "]";
    auto* h = unwrapTensor(env(), item);
    if (h == nullptr) typeError(i, itemName.c_str(), "a Tensor");
    if (h->disposed()) {
      throw Napi::TypeError::New(env(), std::string(op_) + ": argument '" + itemName +
                                            "' is a disposed Tensor");
    }
    out.push_back(h->tensor());
    seen_.emplace_back(itemName, h->tensor().sizes().vec());
  }
  return out;
}

double Args::number(size_t i, const char* name) {
  Napi::Value v = value(i, name);
  if (!v.IsNumber()) typeError(i, name, "a number");
  double x = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(x)) rangeError(std::string("argument '") + name + "' is NaN");
  return x;
}

double Args::numberOr(size_t i, const char* name, double fallback) {
  return has(i) ? number(i, name) : fallback;
}

int64_t Args::integer(size_t i, const char* name, int64_t min, int64_t max) {
  Napi::Value v = value(i, name);
  if (!v.IsNumber()) typeError(i, name, "an integer");
  double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || std::floor(x) != x) typeError(i, name, "an integer");
  if (x < static_cast<double>(min) || x > static_cast<double>(max)) {
    std::ostringstream s;
    s << "argument '" << name << "' must be in [" << min << ", " << max << "] (got " << x << ")";
    rangeError(s.str());
  }
  return static_cast<int64_t>(x);
}

int64_t Args::integerOr(size_t i, const char* name, int64_t min, int64_t max, int64_t fallback) {
  return has(i) ? integer(i, name, min, max) : fallback;
}

bool Args::boolean(size_t i, const char* name) {
  Napi::Value v = value(i, name);
  if (!v.IsBoolean()) typeError(i, name, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

bool Args::booleanOr(size_t i, const char* name, bool fallback) {
  return has(i) ? boolean(i, name) : fallback;
}

std::string Args::string(size_t i, const char* name) {
  Napi::Value v = value(i, name);
  if (!v.IsString()) typeError(i, name, "a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::intList(size_t i, const char* name, size_t minLength,
                                   size_t maxLength, int64_t min, int64_t max) {
  Napi::Value v = value(i, name);
  if (!v.IsArray()) typeError(i, name, "an array of integers");
  auto array = v.As<Napi::Array>();
  if (array.Length() < minLength || array.Length() > maxLength) {
    rangeError(std::string("argument '") + name + "' must have " + std::to_string(minLength) +
               (minLength == maxLength ? "" : " to " + std::to_string(maxLength)) +
               " entries (got " + std::to_string(array.Length()) + ")");
  }
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < array.Length(); k++) {
    Napi::Value item = array.Get(k);
    double x = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(x) || std::floor(x) != x || x < static_cast<double>(min) ||
        x > static_cast<double>(max)) {
      std::ostringstream s;
      s << "argument '" << name << "[" << k << "]' must be an integer in [" << min << ", " << max
        << "] (got " << jsTypeName(item) << ")";
      if (!item.IsNumber()) typeError(i, name, "an array of integers");
      rangeError(s.str());
    }
    out.push_back(static_cast<int64_t>(x));
  }
  return out;
}

std::vector<int64_t> Args::shape(size_t i, const char* name) {
  auto dims = intList(i, name, 0, 8, 0, kMaxElements);
  double elements = 1;
  for (int64_t d : dims) elements *= static_cast<double>(d);
  if (elements > static_cast<double>(kMaxElements)) {
    rangeError(std::string("argument '") + name + "' " + formatShape(dims) +
               " is absurdly large (over 2^36 elements)");
  }
  return dims;
}

at::Generator* Args::generator(size_t i, const char* name) {
  if (!has(i)) return nullptr;
  Napi::Value v = info_[i];
  GeneratorHandle* g = nullptr;
  if (GeneratorHandle::IsHandle(env(), v)) {
    try {
      g = GeneratorHandle::Unwrap(v.As<Napi::Object>());
    } catch (const Napi::Error&) {
      g = nullptr;
    }
  }
  if (g == nullptr) typeError(i, name, "a Generator");
  return &g->generator();
}

at::ScalarType Args::dtype(size_t i, const char* name) {
  std::string s = string(i, name);
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  rangeError(std::string("argument '") + name +
             "' must be one of float32, float64, bfloat16, int64, int32, uint8, bool (got '" + s +
             "')");
}

void Args::rank(const at::Tensor& t, const char* name, int64_t minRank, int64_t maxRank) {
  if (t.dim() < minRank || t.dim() > maxRank) {
    std::string want = minRank == maxRank ? std::to_string(minRank)
                                          : std::to_string(minRank) + " to " + std::to_string(maxRank);
    rangeError(std::string("argument '") + name + "' must have rank " + want + " (got shape " +
               formatShape(t.sizes()) + ")");
  }
}

void Args::floating(const at::Tensor& t, const char* name) {
  if (!at::isFloatingType(t.scalar_type())) {
    rangeError(std::string("argument '") + name + "' must be a floating-point Tensor (got " +
               dtypeName(t.scalar_type()) + ")");
  }
}

void Args::integral(const at::Tensor& t, const char* name) {
  if (!at::isIntegralType(t.scalar_type(), /*includeBool=*/false)) {
    rangeError(std::string("argument '") + name + "' must be an integer Tensor (got " +
               dtypeName(t.scalar_type()) + ")");
  }
}

std::string Args::describe() const {
  std::string s = op_;
  s += "(";
  for (size_t k = 0; k < seen_.size(); k++) {
    if (k > 0) s += ", ";
    s += seen_[k].first + " " + formatShape(seen_[k].second);
  }
  return s + ")";
}

// ---------------------------------------------------------------------------------------
// Helpers

std::string formatShape(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t k = 0; k < sizes.size(); k++) {
    if (k > 0) s += ", ";
    s += std::to_string(sizes[k]);
  }
  return s + "]";
}

std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(type));
  }
}

Napi::Value wrap(Napi::Env env, const at::Tensor& tensor) { return TensorHandle::Wrap(env, tensor); }

Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  auto array = Napi::Array::New(env, tensors.size());
  for (size_t k = 0; k < tensors.size(); k++) array.Set(static_cast<uint32_t>(k), wrap(env, tensors[k]));
  return array;
}

// libtorch messages carry a C++ backtrace after the first lines; keep the message only.
static std::string firstLine(const char* what) {
  std::string s(what);
  auto cut = s.find("\nException raised from");
  if (cut != std::string::npos) s = s.substr(0, cut);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Napi::Value guard(Args& args, const std::function<Napi::Value()>& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(args.env(), args.describe() + ": " + firstLine(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(args.env(), args.describe() + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(args.env(), args.describe() + ": " + firstLine(e.what()));
  }
}

void exportBinding(Napi::Env env, Napi::Object exports, const char* name, Binding binding) {
  exports.Set(name, Napi::Function::New(env, binding, name));
}

}  // namespace duiad
