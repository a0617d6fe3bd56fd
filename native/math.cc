// Elementwise math, comparisons, reductions, shape and indexing ops.
#include <cmath>

#include "common.h"

namespace duiad {
namespace {

// The second operand of a binary op: a Tensor, or a number used as a scalar.
at::Tensor binary(Args& a, const at::Tensor& x, at::Tensor (*fn)(const at::Tensor&, const at::Tensor&),
                  at::Tensor (*scalarFn)(const at::Tensor&, const at::Scalar&)) {
  Napi::Value v = a.value(1, "other");
  if (v.IsNumber()) {
    // An integral number is an integer scalar, so int64 + 3 stays int64 as in PyTorch.
    double q = a.number(1, "other");
    if (std::floor(q) == q && std::abs(q) <= 9007199254740992.0) {
      return scalarFn(x, at::Scalar(static_cast<int64_t>(q)));
    }
    return scalarFn(x, at::Scalar(q));
  }
  return fn(x, a.tensor(1, "other"));
}

#define BINARY_OP(name, expr, scalarExpr)                                               \
  DUIAD_OP(name) {                                                                      \
    at::Tensor x = a.tensor(0, "input");                                                \
    return wrap(a.env(), binary(                                                        \
        a, x, [](const at::Tensor& p, const at::Tensor& q) { return expr; },            \
        [](const at::Tensor& p, const at::Scalar& q) { return scalarExpr; }));          \
  }

BINARY_OP(add, at::add(p, q), at::add(p, q))
BINARY_OP(sub, at::sub(p, q), at::sub(p, q))
BINARY_OP(mul, at::mul(p, q), at::mul(p, q))
BINARY_OP(div, at::div(p, q), at::div(p, q))
BINARY_OP(pow, at::pow(p, q), at::pow(p, q))
BINARY_OP(maximum, at::maximum(p, q), at::clamp_min(p, q))
BINARY_OP(minimum, at::minimum(p, q), at::clamp_max(p, q))
BINARY_OP(eq, at::eq(p, q), at::eq(p, q))
BINARY_OP(ne, at::ne(p, q), at::ne(p, q))
BINARY_OP(lt, at::lt(p, q), at::lt(p, q))
BINARY_OP(le, at::le(p, q), at::le(p, q))
BINARY_OP(gt, at::gt(p, q), at::gt(p, q))
BINARY_OP(ge, at::ge(p, q), at::ge(p, q))
BINARY_OP(logicalAnd, at::logical_and(p, q), at::logical_and(p, at::scalar_tensor(q, p.options())))
BINARY_OP(logicalOr, at::logical_or(p, q), at::logical_or(p, at::scalar_tensor(q, p.options())))

#define UNARY_OP(name, expr)                \
  DUIAD_OP(name) {                          \
    at::Tensor x = a.tensor(0, "input");    \
    return wrap(a.env(), expr);             \
  }

UNARY_OP(neg, at::neg(x))
UNARY_OP(exp, at::exp(x))
UNARY_OP(log, at::log(x))
UNARY_OP(sqrt, at::sqrt(x))
UNARY_OP(rsqrt, at::rsqrt(x))
UNARY_OP(abs, at::abs(x))
UNARY_OP(relu, at::relu(x))
UNARY_OP(sigmoid, at::sigmoid(x))
UNARY_OP(tanh, at::tanh(x))
UNARY_OP(sin, at::sin(x))
UNARY_OP(cos, at::cos(x))
UNARY_OP(floor, at::floor(x))
UNARY_OP(ceil, at::ceil(x))
UNARY_OP(round, at::round(x))
UNARY_OP(sign, at::sign(x))
UNARY_OP(logicalNot, at::logical_not(x))
UNARY_OP(isfinite, at::isfinite(x))

// logdet(input [..., n, n]): log-determinant of square matrices (NaN for negative ones).
DUIAD_OP(logdet) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 2, 8);
  a.floating(x, "input");
  if (x.size(-1) != x.size(-2)) a.rangeError("argument 'input' must hold square matrices (got shape " + formatShape(x.sizes()) + ")");
  return wrap(a.env(), at::logdet(x));
}

DUIAD_OP(clamp) {
  at::Tensor x = a.tensor(0, "input");
  c10::optional<at::Scalar> lo, hi;
  if (a.has(1)) lo = a.number(1, "min");
  if (a.has(2)) hi = a.number(2, "max");
  return wrap(a.env(), at::clamp(x, lo, hi));
}

// Reductions: dims is an array (empty or absent = all dims); keepdim defaults to false.
std::vector<int64_t> reduceDims(Args& a, const at::Tensor& x, size_t i) {
  if (!a.has(i)) return {};
  int64_t r = std::max<int64_t>(x.dim(), 1);
  return a.intList(i, "dims", 0, 8, -r, r - 1);
}

#define REDUCE_OP(name, fn)                                                         \
  DUIAD_OP(name) {                                                                  \
    at::Tensor x = a.tensor(0, "input");                                            \
    auto dims = reduceDims(a, x, 1);                                                \
    bool keep = a.booleanOr(2, "keepdim", false);                                   \
    return wrap(a.env(), fn);                                                       \
  }

REDUCE_OP(sum, dims.empty() && !keep ? at::sum(x) : at::sum(x, dims, keep))
REDUCE_OP(mean, dims.empty() && !keep ? at::mean(x) : at::mean(x, dims, keep))
REDUCE_OP(amax, at::amax(x, dims, keep))
REDUCE_OP(amin, at::amin(x, dims, keep))
REDUCE_OP(logsumexp, at::logsumexp(x, dims.empty() ? std::vector<int64_t>{-1} : dims, keep))
REDUCE_OP(variance, at::var(x, at::OptionalIntArrayRef(dims), /*unbiased=*/false, keep))

DUIAD_OP(argmax) {
  at::Tensor x = a.tensor(0, "input");
  int64_t d = a.integer(1, "dim", -std::max<int64_t>(x.dim(), 1), std::max<int64_t>(x.dim(), 1) - 1);
  return wrap(a.env(), at::argmax(x, d, a.booleanOr(2, "keepdim", false)));
}

DUIAD_OP(argmin) {
  at::Tensor x = a.tensor(0, "input");
  int64_t d = a.integer(1, "dim", -std::max<int64_t>(x.dim(), 1), std::max<int64_t>(x.dim(), 1) - 1);
  return wrap(a.env(), at::argmin(x, d, a.booleanOr(2, "keepdim", false)));
}

// norm(input, p, dims?, keepdim): the Lp norm over dims (all when empty); floating inputs.
DUIAD_OP(norm) {
  at::Tensor x = a.tensor(0, "input");
  a.floating(x, "input");
  double p = a.number(1, "p");
  if (!(p > 0)) a.rangeError("argument 'p' must be positive (got " + std::to_string(p) + ")");
  auto dims = reduceDims(a, x, 2);
  bool keep = a.booleanOr(3, "keepdim", false);
  if (dims.empty()) {
    std::vector<int64_t> all(x.dim());
    for (int64_t k = 0; k < x.dim(); k++) all[k] = k;
    dims = all;
  }
  return wrap(a.env(), at::norm(x, p, dims, keep));
}

// Shape ops.
DUIAD_OP(reshape) {
  at::Tensor x = a.tensor(0, "input");
  auto shape = a.intList(1, "shape", 0, 8, -1, int64_t{1} << 36);
  return wrap(a.env(), x.reshape(shape));
}
DUIAD_OP(permute) {
  at::Tensor x = a.tensor(0, "input");
  auto dims = a.intList(1, "dims", x.dim(), x.dim(), -x.dim(), std::max<int64_t>(x.dim() - 1, 0));
  return wrap(a.env(), x.permute(dims));
}
DUIAD_OP(transpose) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t d0 = a.integer(1, "dim0", -r, r - 1), d1 = a.integer(2, "dim1", -r, r - 1);
  return wrap(a.env(), x.transpose(d0, d1));
}
DUIAD_OP(flatten) {
  at::Tensor x = a.tensor(0, "input");
  int64_t r = std::max<int64_t>(x.dim(), 1);
  int64_t start = a.integerOr(1, "startDim", -r, r - 1, 0);
  int64_t end = a.integerOr(2, "endDim", -r, r - 1, -1);
  return wrap(a.env(), at::flatten(x, start, end));
}
DUIAD_OP(unsqueeze) {
  at::Tensor x = a.tensor(0, "input");
  int64_t r = x.dim() + 1;
  return wrap(a.env(), x.unsqueeze(a.integer(1, "dim", -r, r - 1)));
}
DUIAD_OP(squeeze) {
  at::Tensor x = a.tensor(0, "input");
  if (!a.has(1)) return wrap(a.env(), x.squeeze());
  int64_t r = std::max<int64_t>(x.dim(), 1);
  return wrap(a.env(), x.squeeze(a.integer(1, "dim", -r, r - 1)));
}
DUIAD_OP(expand) {
  at::Tensor x = a.tensor(0, "input");
  return wrap(a.env(), x.expand(a.intList(1, "shape", 0, 8, -1, int64_t{1} << 36)));
}
DUIAD_OP(cat) {
  auto xs = a.tensorList(0, "tensors");
  int64_t r = std::max<int64_t>(xs[0].dim(), 1);
  return wrap(a.env(), at::cat(xs, a.integerOr(1, "dim", -r, r - 1, 0)));
}
DUIAD_OP(stack) {
  auto xs = a.tensorList(0, "tensors");
  int64_t r = xs[0].dim() + 1;
  return wrap(a.env(), at::stack(xs, a.integerOr(1, "dim", -r, r - 1, 0)));
}
// split(input, sizes, dim): consecutive pieces along dim; `sizes` is one piece length (the last
// piece may be shorter) or an array of lengths that add up to the dim's size.
DUIAD_OP(split) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integerOr(2, "dim", -r, r - 1, 0);
  int64_t total = x.size(dim);
  if (a.value(1, "sizes").IsNumber()) {
    int64_t size = a.integer(1, "sizes", 1, int64_t{1} << 36);
    return wrapList(a.env(), at::split(x, size, dim));
  }
  auto sizes = a.intList(1, "sizes", 1, 1 << 16, 0, int64_t{1} << 36);
  int64_t sum = 0;
  for (int64_t s : sizes) sum += s;
  if (sum != total) {
    a.rangeError("argument 'sizes' adds up to " + std::to_string(sum) + " but dim " +
                 std::to_string(dim) + " has size " + std::to_string(total));
  }
  return wrapList(a.env(), at::split_with_sizes(x, sizes, dim));
}
DUIAD_OP(narrow) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integer(1, "dim", -r, r - 1);
  int64_t size = x.size(dim);
  int64_t start = a.integer(2, "start", 0, size);
  int64_t length = a.integer(3, "length", 0, size - start);
  return wrap(a.env(), x.narrow(dim, start, length));
}
DUIAD_OP(indexSelect) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integer(1, "dim", -r, r - 1);
  at::Tensor index = a.tensor(2, "index");
  a.integral(index, "index");
  a.rank(index, "index", 1, 1);
  return wrap(a.env(), at::index_select(x, dim, index.to(at::kLong)));
}
DUIAD_OP(gather) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integer(1, "dim", -r, r - 1);
  at::Tensor index = a.tensor(2, "index");
  a.integral(index, "index");
  return wrap(a.env(), at::gather(x, dim, index.to(at::kLong)));
}
DUIAD_OP(where) {
  at::Tensor cond = a.tensor(0, "condition");
  at::Tensor x = a.tensor(1, "input");
  at::Tensor y = a.tensor(2, "other");
  return wrap(a.env(), at::where(cond.to(at::kBool), x, y));
}
DUIAD_OP(maskedFill) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor mask = a.tensor(1, "mask");
  return wrap(a.env(), x.masked_fill(mask.to(at::kBool), a.number(2, "value")));
}
// maskedSelect(input, mask): the values of input where the (broadcast) mask is true, as 1-D.
DUIAD_OP(maskedSelect) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor mask = a.tensor(1, "mask");
  if (mask.scalar_type() != at::kBool && mask.scalar_type() != at::kByte) {
    a.rangeError("argument 'mask' must be a bool or uint8 Tensor (got " + dtypeName(mask.scalar_type()) + ")");
  }
  return wrap(a.env(), at::masked_select(x, mask.to(at::kBool)));
}
DUIAD_OP(flip) {
  at::Tensor x = a.tensor(0, "input");
  int64_t r = std::max<int64_t>(x.dim(), 1);
  return wrap(a.env(), at::flip(x, a.intList(1, "dims", 1, 8, -r, r - 1)));
}
DUIAD_OP(rot90) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 2, 8);
  int64_t k = a.integer(1, "k", -1000, 1000);
  int64_t r = x.dim();
  auto dims = a.has(2) ? a.intList(2, "dims", 2, 2, -r, r - 1) : std::vector<int64_t>{-2, -1};
  return wrap(a.env(), at::rot90(x, k, dims));
}
DUIAD_OP(matmul) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor y = a.tensor(1, "other");
  a.rank(x, "input", 1, 8);
  a.rank(y, "other", 1, 8);
  return wrap(a.env(), at::matmul(x, y));
}
// bmm(input [b, n, k], other [b, k, m]) -> [b, n, m]
DUIAD_OP(bmm) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor y = a.tensor(1, "other");
  a.rank(x, "input", 3, 3);
  a.rank(y, "other", 3, 3);
  if (x.size(0) != y.size(0) || x.size(2) != y.size(1)) {
    a.rangeError("shapes " + formatShape(x.sizes()) + " and " + formatShape(y.sizes()) +
                 " do not multiply (need [b, n, k] and [b, k, m])");
  }
  if (x.scalar_type() != y.scalar_type()) {
    a.rangeError("dtypes differ (" + dtypeName(x.scalar_type()) + " and " + dtypeName(y.scalar_type()) + ")");
  }
  return wrap(a.env(), at::bmm(x, y));
}
DUIAD_OP(topk) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integerOr(2, "dim", -r, r - 1, -1);
  int64_t k = a.integer(1, "k", 0, x.size(dim));
  bool largest = a.booleanOr(3, "largest", true);
  auto [values, indices] = at::topk(x, k, dim, largest, /*sorted=*/true);
  return wrapList(a.env(), {values, indices});
}
DUIAD_OP(sort) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 1, 8);
  int64_t r = x.dim();
  int64_t dim = a.integerOr(1, "dim", -r, r - 1, -1);
  auto [values, indices] = at::sort(x, /*stable=*/true, dim, a.booleanOr(2, "descending", false));
  return wrapList(a.env(), {values, indices});
}

}  // namespace

void RegisterMathOps(Napi::Env env, Napi::Object exports) {
#define EXPORT(name) exportBinding(env, exports, #name, name)
  EXPORT(add); EXPORT(sub); EXPORT(mul); EXPORT(div); EXPORT(pow); EXPORT(maximum);
  EXPORT(minimum); EXPORT(eq); EXPORT(ne); EXPORT(lt); EXPORT(le); EXPORT(gt); EXPORT(ge);
  EXPORT(neg); EXPORT(exp); EXPORT(log); EXPORT(sqrt); EXPORT(rsqrt); EXPORT(abs); EXPORT(relu);
  EXPORT(sigmoid); EXPORT(tanh); EXPORT(sin); EXPORT(cos); EXPORT(floor); EXPORT(ceil);
  EXPORT(round); EXPORT(sign); EXPORT(logicalNot); EXPORT(isfinite); EXPORT(clamp); EXPORT(logdet);
  EXPORT(sum); EXPORT(mean); EXPORT(amax); EXPORT(amin); EXPORT(logsumexp); EXPORT(variance);
  EXPORT(argmax); EXPORT(reshape); EXPORT(permute); EXPORT(transpose); EXPORT(flatten);
  EXPORT(unsqueeze); EXPORT(squeeze); EXPORT(expand); EXPORT(cat); EXPORT(stack); EXPORT(narrow);
  EXPORT(indexSelect); EXPORT(gather); EXPORT(where); EXPORT(maskedFill); EXPORT(flip);
  EXPORT(rot90); EXPORT(matmul); EXPORT(topk); EXPORT(sort);
  EXPORT(logicalAnd); EXPORT(logicalOr); EXPORT(argmin); EXPORT(norm); EXPORT(split);
  EXPORT(maskedSelect); EXPORT(bmm);
#undef EXPORT
}

}  // namespace duiad
