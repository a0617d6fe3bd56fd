// Optimiser steps, done in place on parameter tensors under no-grad.
#include <cmath>

#include "common.h"

namespace duiad {
namespace {

// Parameters and their state tensors must pair up one to one, with equal shapes.
void checkPairs(Args& a, const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& state,
                const char* stateName) {
  if (params.size() != state.size()) {
    a.rangeError(std::string("'") + stateName + "' has " + std::to_string(state.size()) +
                 " Tensors but 'params' has " + std::to_string(params.size()));
  }
  for (size_t k = 0; k < params.size(); k++) {
    if (!params[k].sizes().equals(state[k].sizes())) {
      a.rangeError(std::string("'") + stateName + "[" + std::to_string(k) + "]' has shape " +
                   formatShape(state[k].sizes()) + " but 'params[" + std::to_string(k) +
                   "]' has shape " + formatShape(params[k].sizes()));
    }
  }
}

double finiteNonNegative(Args& a, size_t i, const char* name) {
  double x = a.number(i, name);
  if (!std::isfinite(x) || x < 0) a.rangeError(std::string("argument '") + name + "' must be a finite number >= 0");
  return x;
}

// sgdStep(params, momentumBuffers, lr, momentum, weightDecay, nesterov): PyTorch's SGD
// (dampening 0); parameters without a gradient are skipped. Buffers start at zero and the
// first step copies the gradient into them, as PyTorch does.
DUIAD_OP(sgdStep) {
  auto params = a.tensorList(0, "params", 0);
  auto bufs = a.tensorList(1, "momentumBuffers", 0);
  checkPairs(a, params, bufs, "momentumBuffers");
  double lr = finiteNonNegative(a, 2, "lr");
  double momentum = finiteNonNegative(a, 3, "momentum");
  double wd = finiteNonNegative(a, 4, "weightDecay");
  bool nesterov = a.boolean(5, "nesterov");
  bool first = a.boolean(6, "firstStep");
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < params.size(); k++) {
    at::Tensor& p = params[k];
    if (!p.grad().defined()) continue;
    at::Tensor d = p.grad();
    if (wd != 0) d = d.add(p, wd);
    if (momentum != 0) {
      if (first) bufs[k].copy_(d);
      else bufs[k].mul_(momentum).add_(d);
      d = nesterov ? d.add(bufs[k], momentum) : bufs[k];
    }
    p.add_(d, -lr);
  }
  return a.env().Undefined();
}

// adamwStep(params, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay)
DUIAD_OP(adamwStep) {
  auto params = a.tensorList(0, "params", 0);
  auto m = a.tensorList(1, "expAvg", 0);
  auto v = a.tensorList(2, "expAvgSq", 0);
  checkPairs(a, params, m, "expAvg");
  checkPairs(a, params, v, "expAvgSq");
  int64_t step = a.integer(3, "step", 1, int64_t{1} << 40);
  double lr = finiteNonNegative(a, 4, "lr");
  double beta1 = a.number(5, "beta1"), beta2 = a.number(6, "beta2");
  if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) a.rangeError("betas must be in [0, 1)");
  double eps = finiteNonNegative(a, 7, "eps");
  double wd = finiteNonNegative(a, 8, "weightDecay");
  double c1 = 1 - std::pow(beta1, static_cast<double>(step));
  double c2 = 1 - std::pow(beta2, static_cast<double>(step));
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < params.size(); k++) {
    at::Tensor& p = params[k];
    if (!p.grad().defined()) continue;
    const at::Tensor& g = p.grad();
    p.mul_(1 - lr * wd);
    m[k].mul_(beta1).add_(g, 1 - beta1);
    v[k].mul_(beta2).addcmul_(g, g, 1 - beta2);
    at::Tensor denom = (v[k] / c2).sqrt_().add_(eps);
    p.addcdiv_(m[k], denom, -lr / c1);
  }
  return a.env().Undefined();
}

// clipGradNorm(params, maxNorm): scales gradients so their global L2 norm is at most maxNorm;
// returns the norm before clipping.
DUIAD_OP(clipGradNorm) {
  auto params = a.tensorList(0, "params", 0);
  double maxNorm = a.number(1, "maxNorm");
  if (!(maxNorm > 0)) a.rangeError("argument 'maxNorm' must be positive");
  at::NoGradGuard noGrad;
  double total = 0;
  for (auto& p : params) {
    if (p.grad().defined()) total += p.grad().pow(2).sum().item<double>();
  }
  total = std::sqrt(total);
  if (total > maxNorm) {
    for (auto& p : params) {
      if (p.grad().defined()) p.mutable_grad().mul_(maxNorm / (total + 1e-6));
    }
  }
  return Napi::Number::New(a.env(), total);
}

}  // namespace

void RegisterOptimOps(Napi::Env env, Napi::Object exports) {
  exportBinding(env, exports, "sgdStep", sgdStep);
  exportBinding(env, exports, "adamwStep", adamwStep);
  exportBinding(env, exports, "clipGradNorm", clipGradNorm);
}

}  // namespace duiad
