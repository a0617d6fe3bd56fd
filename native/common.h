// Shared pieces of the duiad engine addon: the JavaScript handle for a libtorch tensor,
// the argument reader every binding uses, and the macro that turns libtorch errors into
// JavaScript errors naming the op and the shapes of its tensor arguments.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace duiad {

// A JavaScript object owning one at::Tensor until dispose() or garbage collection.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, at::Tensor tensor);
  static bool IsHandle(Napi::Env env, const Napi::Value& value);
  static int64_t LiveCount() { return live_.load(); }

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  bool disposed() const { return !tensor_.has_value(); }
  const at::Tensor& tensor() const { return *tensor_; }
  // Makes this handle own `tensor` instead (same JavaScript object, new libtorch tensor).
  void Replace(at::Tensor tensor) { tensor_ = std::move(tensor); }
  void Dispose();

 private:
  Napi::Value JsDispose(const Napi::CallbackInfo& info);
  Napi::Value JsDisposed(const Napi::CallbackInfo& info);

  c10::optional<at::Tensor> tensor_;
  static std::atomic<int64_t> live_;
};

// A seeded random generator, owned by JavaScript.
class GeneratorHandle : public Napi::ObjectWrap<GeneratorHandle> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  static bool IsHandle(Napi::Env env, const Napi::Value& value);

  explicit GeneratorHandle(const Napi::CallbackInfo& info);
  at::Generator& generator() { return generator_; }

 private:
  at::Generator generator_;
};

// Per-environment data: the constructors used for instanceof checks and wrapping.
struct AddonData {
  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference generatorConstructor;
};

// Reads and validates the JavaScript arguments of one binding. Every accessor throws a
// TypeError or RangeError that names the op, the argument and what it got.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  Napi::Env env() const { return info_.Env(); }
  const char* op() const { return op_; }
  size_t size() const { return info_.Length(); }
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }

  at::Tensor tensor(size_t i, const char* name);
  c10::optional<at::Tensor> optTensor(size_t i, const char* name);
  std::vector<at::Tensor> tensorList(size_t i, const char* name, size_t minLength = 1);
  TensorHandle* handle(size_t i, const char* name);
  double number(size_t i, const char* name);
  double numberOr(size_t i, const char* name, double fallback);
  int64_t integer(size_t i, const char* name, int64_t min, int64_t max);
  int64_t integerOr(size_t i, const char* name, int64_t min, int64_t max, int64_t fallback);
  bool boolean(size_t i, const char* name);
  bool booleanOr(size_t i, const char* name, bool fallback);
  std::string string(size_t i, const char* name);
  std::vector<int64_t> intList(size_t i, const char* name, size_t minLength, size_t maxLength,
                               int64_t min, int64_t max);
  std::vector<int64_t> shape(size_t i, const char* name);
  at::Generator* generator(size_t i, const char* name);
  at::ScalarType dtype(size_t i, const char* name);
  // Checks that tensor argument `name` has rank within [minRank, maxRank].
  void rank(const at::Tensor& t, const char* name, int64_t minRank, int64_t maxRank);
  void floating(const at::Tensor& t, const char* name);
  void integral(const at::Tensor& t, const char* name);

  // "conv2d(input [8, 3, 32, 32], weight [16, 1, 3, 3])": used in error messages.
  // The raw argument i; a TypeError if it is missing.
  Napi::Value value(size_t i, const char* name);
  std::string describe() const;
  [[noreturn]] void typeError(size_t i, const char* name, const std::string& expected);
  [[noreturn]] void rangeError(const std::string& message);

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
  std::vector<std::pair<std::string, std::vector<int64_t>>> seen_;
};

std::string formatShape(at::IntArrayRef sizes);
std::string dtypeName(at::ScalarType type);
Napi::Value wrap(Napi::Env env, const at::Tensor& tensor);
Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors);

// Runs `body` and converts libtorch and standard exceptions to JavaScript errors.
Napi::Value guard(Args& args, const std::function<Napi::Value()>& body);

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);
void exportBinding(Napi::Env env, Napi::Object exports, const char* name, Binding binding);

void RegisterTensorOps(Napi::Env env, Napi::Object exports);
void RegisterMathOps(Napi::Env env, Napi::Object exports);
void RegisterNnOps(Napi::Env env, Napi::Object exports);
void RegisterOptimOps(Napi::Env env, Napi::Object exports);
void InstallAllocator(Napi::Env env, Napi::Object exports);

}  // namespace duiad

// Defines a binding `name` whose body reads arguments from `a` (an Args) and returns a
// Napi::Value; libtorch errors thrown inside become JavaScript errors.
#define DUIAD_OP(name)                                                   \
  static Napi::Value name##_body(duiad::Args& a);                        \
  static Napi::Value name(const Napi::CallbackInfo& info) {              \
    duiad::Args a(info, #name);                                          \
    return duiad::guard(a, [&]() { return name##_body(a); });            \
  }                                                                      \
  static Napi::Value name##_body(duiad::Args& a)
