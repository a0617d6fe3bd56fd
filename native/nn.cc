// Neural-network ops: convolution, normalisation, pooling, losses, sampling grids.
#include "common.h"

namespace duiad {
namespace {

constexpr int64_t kMaxKernel = 1 << 16;

// The arguments shared by the convolutions: input and weight (both rank 4), optional bias,
// stride and padding.
struct ConvArgs {
  at::Tensor input, weight;
  c10::optional<at::Tensor> bias;
  std::vector<int64_t> stride, padding;
};

ConvArgs convArgs(Args& a) {
  ConvArgs c{a.tensor(0, "input"), a.tensor(1, "weight"), a.optTensor(2, "bias"), {}, {}};
  a.rank(c.input, "input", 4, 4);
  a.rank(c.weight, "weight", 4, 4);
  c.stride = a.intList(3, "stride", 2, 2, 1, kMaxKernel);
  c.padding = a.intList(4, "padding", 2, 2, 0, kMaxKernel);
  return c;
}

// conv2d(input [batch, channels, height, width], weight [out, in/groups, kh, kw], bias?,
//        stride [2], padding [2], dilation [2], groups)
DUIAD_OP(conv2d) {
  ConvArgs c = convArgs(a);
  auto dilation = a.has(5) ? a.intList(5, "dilation", 2, 2, 1, kMaxKernel) : std::vector<int64_t>{1, 1};
  int64_t groups = a.integerOr(6, "groups", 1, kMaxKernel, 1);
  bool oneByOne = c.weight.size(2) == 1 && c.weight.size(3) == 1;
  bool strided = c.stride[0] != 1 || c.stride[1] != 1;
  bool unpadded = c.padding[0] == 0 && c.padding[1] == 0;
  bool channelsLast = c.input.is_contiguous(at::MemoryFormat::ChannelsLast) ||
                      c.weight.is_contiguous(at::MemoryFormat::ChannelsLast);
  if (oneByOne && strided && unpadded && channelsLast && c.input.size(2) > 0 && c.input.size(3) > 0) {
    // NOTE: libtorch 1.13's oneDNN backward of a strided 1x1 convolution in channels-last
    // order writes out of bounds (heap corruption, wrong weight gradients; reproduced with
    // Debian's python3-torch). A 1x1 kernel without padding reads only every stride-th
    // pixel, so take those pixels first and convolve with stride 1: the same values.
    at::Tensor picked = c.input.slice(2, 0, c.input.size(2), c.stride[0])
                            .slice(3, 0, c.input.size(3), c.stride[1]);
    std::vector<int64_t> one{1, 1}, zero{0, 0};
    return wrap(a.env(), at::conv2d(picked, c.weight, c.bias, one, zero, dilation, groups));
  }
  return wrap(a.env(), at::conv2d(c.input, c.weight, c.bias, c.stride, c.padding, dilation, groups));
}

// convTranspose2d(input, weight [in, out/groups, kh, kw], bias?, stride, padding, outputPadding)
DUIAD_OP(convTranspose2d) {
  ConvArgs c = convArgs(a);
  auto outPad = a.has(5) ? a.intList(5, "outputPadding", 2, 2, 0, kMaxKernel) : std::vector<int64_t>{0, 0};
  return wrap(a.env(), at::conv_transpose2d(c.input, c.weight, c.bias, c.stride, c.padding, outPad));
}

// batchNorm(input, weight?, bias?, runningMean?, runningVar?, training, momentum, eps):
// in training mode the running statistics are updated in place.
DUIAD_OP(batchNorm) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 2, 5);
  auto w = a.optTensor(1, "weight");
  auto b = a.optTensor(2, "bias");
  auto mean = a.optTensor(3, "runningMean");
  auto var = a.optTensor(4, "runningVar");
  bool training = a.boolean(5, "training");
  double momentum = a.number(6, "momentum");
  double eps = a.number(7, "eps");
  if (momentum < 0 || momentum > 1) a.rangeError("argument 'momentum' must be in [0, 1]");
  if (!(eps > 0)) a.rangeError("argument 'eps' must be positive");
  if (!training && (!mean || !var)) a.rangeError("evaluation mode needs running statistics");
  if (x.size(1) == 0) a.rangeError("argument 'input' has no channels (shape " + formatShape(x.sizes()) + ")");
  if (training && x.numel() / x.size(1) <= 1) {
    a.rangeError("training needs more than one value per channel (got shape " + formatShape(x.sizes()) + ")");
  }
  return wrap(a.env(), at::batch_norm(x, w, b, mean, var, training, momentum, eps, /*cudnn=*/true));
}

DUIAD_OP(layerNorm) {
  at::Tensor x = a.tensor(0, "input");
  auto shape = a.intList(1, "normalizedShape", 1, 8, 1, int64_t{1} << 36);
  auto w = a.optTensor(2, "weight");
  auto b = a.optTensor(3, "bias");
  double eps = a.numberOr(4, "eps", 1e-5);
  return wrap(a.env(), at::layer_norm(x, shape, w, b, eps));
}

DUIAD_OP(dropout) {
  at::Tensor x = a.tensor(0, "input");
  double p = a.number(1, "p");
  if (p < 0 || p > 1) a.rangeError("argument 'p' must be in [0, 1]");
  return wrap(a.env(), at::dropout(x, p, a.boolean(2, "training")));
}

// The arguments shared by the pooling ops: input, kernelSize, stride (default: the kernel),
// padding (default 0).
struct PoolArgs {
  at::Tensor input;
  std::vector<int64_t> kernel, stride, padding;
};

PoolArgs poolArgs(Args& a) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 3, 4);
  auto kernel = a.intList(1, "kernelSize", 2, 2, 1, kMaxKernel);
  auto stride = a.has(2) ? a.intList(2, "stride", 2, 2, 1, kMaxKernel) : kernel;
  auto padding = a.has(3) ? a.intList(3, "padding", 2, 2, 0, kMaxKernel) : std::vector<int64_t>{0, 0};
  return {x, kernel, stride, padding};
}

DUIAD_OP(maxPool2d) {
  PoolArgs p = poolArgs(a);
  return wrap(a.env(), at::max_pool2d(p.input, p.kernel, p.stride, p.padding));
}

DUIAD_OP(avgPool2d) {
  PoolArgs p = poolArgs(a);
  return wrap(a.env(), at::avg_pool2d(p.input, p.kernel, p.stride, p.padding));
}

DUIAD_OP(adaptiveAvgPool2d) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 3, 4);
  return wrap(a.env(), at::adaptive_avg_pool2d(x, a.intList(1, "outputSize", 2, 2, 1, kMaxKernel)));
}

// linear(input [..., in], weight [out, in], bias? [out])
DUIAD_OP(linear) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor w = a.tensor(1, "weight");
  auto b = a.optTensor(2, "bias");
  a.rank(x, "input", 1, 8);
  a.rank(w, "weight", 2, 2);
  return wrap(a.env(), at::linear(x, w, b));
}

int64_t dimArg(Args& a, const at::Tensor& x, size_t i, int64_t fallback) {
  int64_t r = std::max<int64_t>(x.dim(), 1);
  return a.integerOr(i, "dim", -r, r - 1, fallback);
}

DUIAD_OP(softmax) {
  at::Tensor x = a.tensor(0, "input");
  return wrap(a.env(), at::softmax(x, dimArg(a, x, 1, -1)));
}
DUIAD_OP(logSoftmax) {
  at::Tensor x = a.tensor(0, "input");
  return wrap(a.env(), at::log_softmax(x, dimArg(a, x, 1, -1)));
}

// crossEntropy(logits [batch, classes], targets [batch] int64, labelSmoothing?)
DUIAD_OP(crossEntropy) {
  at::Tensor logits = a.tensor(0, "logits");
  at::Tensor targets = a.tensor(1, "targets");
  a.rank(logits, "logits", 2, 2);
  a.rank(targets, "targets", 1, 1);
  a.floating(logits, "logits");
  a.integral(targets, "targets");
  if (targets.size(0) != logits.size(0)) {
    a.rangeError("'targets' has " + std::to_string(targets.size(0)) + " entries but 'logits' has " +
                 std::to_string(logits.size(0)) + " rows");
  }
  at::Tensor t = targets.to(at::kLong);
  if (t.numel() > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= logits.size(1))) {
    a.rangeError("'targets' must lie in [0, " + std::to_string(logits.size(1) - 1) + "]");
  }
  double smoothing = a.numberOr(2, "labelSmoothing", 0.0);
  return wrap(a.env(), at::cross_entropy_loss(logits, t, {}, at::Reduction::Mean, -100, smoothing));
}

// mseLoss(input, target, reduction 'mean' | 'sum' | 'none')
DUIAD_OP(mseLoss) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor y = a.tensor(1, "target");
  std::string r = a.has(2) ? a.string(2, "reduction") : "mean";
  int64_t reduction = r == "mean" ? at::Reduction::Mean : r == "sum" ? at::Reduction::Sum
                      : r == "none" ? at::Reduction::None : -1;
  if (reduction < 0) a.rangeError("argument 'reduction' must be 'mean', 'sum' or 'none' (got '" + r + "')");
  // torch.nn.functional.mse_loss broadcasts before calling the kernel, whose gradient for a
  // broadcast target is otherwise wrong; do the same.
  auto both = at::broadcast_tensors({x, y});
  return wrap(a.env(), at::mse_loss(both[0], both[1], reduction));
}

// normalize(input, p, dim, eps): input / max(||input||_p along dim, eps)
DUIAD_OP(normalize) {
  at::Tensor x = a.tensor(0, "input");
  double p = a.numberOr(1, "p", 2.0);
  int64_t dim = dimArg(a, x, 2, 1);
  double eps = a.numberOr(3, "eps", 1e-12);
  at::Tensor norm = at::norm(x, p, {dim}, /*keepdim=*/true).clamp_min(eps);
  return wrap(a.env(), x / norm);
}

DUIAD_OP(cosineSimilarity) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor y = a.tensor(1, "other");
  int64_t dim = dimArg(a, x, 2, 1);
  return wrap(a.env(), at::cosine_similarity(x, y, dim, a.numberOr(3, "eps", 1e-8)));
}

DUIAD_OP(cdist) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor y = a.tensor(1, "other");
  a.rank(x, "input", 2, 3);
  a.rank(y, "other", 2, 3);
  return wrap(a.env(), at::cdist(x, y, a.numberOr(2, "p", 2.0)));
}

// interpolate(input [b, c, h, w], size [2], mode 'bilinear' | 'nearest', alignCorners)
DUIAD_OP(interpolate) {
  at::Tensor x = a.tensor(0, "input");
  a.rank(x, "input", 4, 4);
  auto size = a.intList(1, "size", 2, 2, 1, kMaxKernel);
  std::string mode = a.has(2) ? a.string(2, "mode") : "bilinear";
  bool align = a.booleanOr(3, "alignCorners", false);
  if (mode == "bilinear") return wrap(a.env(), at::upsample_bilinear2d(x, size, align));
  if (mode == "nearest") return wrap(a.env(), at::upsample_nearest2d(x, size));
  a.rangeError("argument 'mode' must be 'bilinear' or 'nearest' (got '" + mode + "')");
}

// affineGrid(theta [b, 2, 3], size [b, c, h, w], alignCorners)
DUIAD_OP(affineGrid) {
  at::Tensor theta = a.tensor(0, "theta");
  a.rank(theta, "theta", 3, 3);
  a.floating(theta, "theta");
  auto size = a.intList(1, "size", 4, 4, 1, kMaxKernel);
  if (theta.size(0) != size[0] || theta.size(1) != 2 || theta.size(2) != 3) {
    a.rangeError("'theta' must have shape [" + std::to_string(size[0]) + ", 2, 3] (got " +
                 formatShape(theta.sizes()) + ")");
  }
  return wrap(a.env(), at::affine_grid_generator(theta, size, a.booleanOr(2, "alignCorners", false)));
}

// gridSample(input [b, c, h, w], grid [b, oh, ow, 2], mode, paddingMode, alignCorners)
DUIAD_OP(gridSample) {
  at::Tensor x = a.tensor(0, "input");
  at::Tensor grid = a.tensor(1, "grid");
  a.rank(x, "input", 4, 4);
  a.rank(grid, "grid", 4, 4);
  std::string mode = a.has(2) ? a.string(2, "mode") : "bilinear";
  std::string pad = a.has(3) ? a.string(3, "paddingMode") : "zeros";
  int64_t m = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : -1;
  int64_t p = pad == "zeros" ? 0 : pad == "border" ? 1 : pad == "reflection" ? 2 : -1;
  if (m < 0) a.rangeError("argument 'mode' must be 'bilinear' or 'nearest' (got '" + mode + "')");
  if (p < 0) a.rangeError("argument 'paddingMode' must be 'zeros', 'border' or 'reflection' (got '" + pad + "')");
  return wrap(a.env(), at::grid_sampler(x, grid, m, p, a.booleanOr(4, "alignCorners", false)));
}

// pad(input, pads [left, right, top, bottom, ...], value): constant padding.
DUIAD_OP(pad) {
  at::Tensor x = a.tensor(0, "input");
  auto pads = a.intList(1, "pads", 2, 8, -kMaxKernel, kMaxKernel);
  if (pads.size() % 2 != 0) a.rangeError("argument 'pads' must have an even number of entries");
  return wrap(a.env(), at::constant_pad_nd(x, pads, a.numberOr(2, "value", 0.0)));
}

}  // namespace

void RegisterNnOps(Napi::Env env, Napi::Object exports) {
#define EXPORT(name) exportBinding(env, exports, #name, name)
  EXPORT(conv2d); EXPORT(convTranspose2d); EXPORT(batchNorm); EXPORT(layerNorm); EXPORT(dropout);
  EXPORT(maxPool2d); EXPORT(avgPool2d); EXPORT(adaptiveAvgPool2d); EXPORT(linear);
  EXPORT(softmax); EXPORT(logSoftmax); EXPORT(crossEntropy); EXPORT(mseLoss); EXPORT(normalize);
  EXPORT(cosineSimilarity); EXPORT(cdist); EXPORT(interpolate); EXPORT(affineGrid);
  EXPORT(gridSample); EXPORT(pad);
#undef EXPORT
}

}  // namespace duiad
