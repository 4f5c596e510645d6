#pragma once
// Raw-pointer launchers of our own CUDA kernels. The .cu files implement them; the Tensor-level
// functions in the *_ops.cpp files check shapes, dtypes and devices and call them on the compute
// stream. Keeping Tensor out of the .cu files keeps nvcc away from the C++20 host code.
//
// Storage types. Launchers that move activations or their gradients are templates over the
// element type T = float, __nv_bfloat16 or __half (explicitly instantiated for those three in
// the .cu files; kernels/cuda/storage.cuh): kernels load T, compute in float (sums in double)
// and round once, to nearest even, when they store T. Every T pointer of one call has the same
// T. Parameters, statistics and coefficients (batch-norm weight, running stats, coef, ...) are
// float whatever T is. Launchers without a template parameter are float only.
#include <cuda_runtime.h>

#include <cstdint>

// The 16-bit storage types, declared as cuda_bf16.h / cuda_fp16.h declare them: host code only
// passes pointers to them, so it needs neither header.
struct __nv_bfloat16;
struct __half;

namespace te::cuda::launch {

// Keeps a parameter out of template argument deduction, so an optional pointer passed as
// nullptr does not stop T being deduced from the others.
template <typename T>
struct NonDeduced {
  using type = T;
};
template <typename T>
using same_t = typename NonDeduced<T>::type;

// ---- elementwise.cu ----
// y = sum of xs[0..count), count >= 1 (device pointers, passed in a host array). The inputs
// are added in float in chunks of 8 (a 16-bit y is rounded once per chunk: once for up to 8).
template <typename T>
void add_n(const T* const* xs, int count, T* y, int64_t n, cudaStream_t s);
// dst += src
template <typename T>
void add_inplace(const T* src, T* dst, int64_t n, cudaStream_t s);
// x *= factor
void scale(float* x, float factor, int64_t n, cudaStream_t s);
// dst[r * dst_pitch + c] += src[r * src_pitch + c] for r < rows, c < cols (pitches in elements).
template <typename T>
void add_2d(const T* src, int64_t src_pitch, T* dst, int64_t dst_pitch, int64_t cols,
            int64_t rows, cudaStream_t s);
// *flag = 1 when some x[i] is NaN or infinite (flag is left alone otherwise).
void flag_nonfinite(const float* x, int64_t n, int* flag, cudaStream_t s);
// *out = sum of x[i]^2 in double, in a fixed order (same result every run).
// `partials` must hold kReducePartials doubles.
constexpr int kReducePartials = 512;
void sum_of_squares(const float* x, int64_t n, double* partials, double* out, cudaStream_t s);
// *out = sum of x[0..n) in double, one block, fixed order.
void sum_f64(const double* x, int64_t n, double* out, cudaStream_t s);

// ---- activation.cu ----  kind: 0 ReLU, 1 GELU (erf), 2 GELU (tanh), 3 SiLU
template <typename T>
void activation_forward(int kind, const T* x, T* y, int64_t n, cudaStream_t s);
// ReLU reads only y (x may be null), the others only x (y may be null).
template <typename T>
void activation_backward(int kind, const same_t<T>* x, const same_t<T>* y, const T* dy, T* dx,
                         int64_t n, bool accumulate, cudaStream_t s);

// ---- dropout.cu ----  out = in * keep / (1 - p) (or +=), mask from CounterRng(key, stream, i/4)
template <typename T>
void dropout(const T* in, T* out, int64_t n, double p, uint64_t key, uint64_t stream,
             bool accumulate, cudaStream_t s);

// ---- softmax_xent.cu ----
// Row-wise softmax of logits [rows, k] into probs. When labels is non-null also the per-row
// loss (row_loss, doubles) and, when grad is non-null, grad = grad_scale * (probs - target)
// (fused forward + backward). A label outside [0, k) stores its row in *bad_row.
void softmax_xent(const float* logits, const int32_t* labels, int64_t rows, int64_t k,
                  float label_smoothing, float* probs, double* row_loss, float* grad,
                  float grad_scale, int* bad_row, cudaStream_t s);
// grad = grad_scale * (probs - target)
void softmax_xent_backward(const float* probs, const int32_t* labels, int64_t rows, int64_t k,
                           float label_smoothing, float grad_scale, float* grad, cudaStream_t s);
// *count += rows whose first maximal logit is at the label.
void count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t k,
                   unsigned long long* count, cudaStream_t s);

// ---- optim.cu ----
void sgd_step(float* p, const float* g, float* buf, const uint8_t* mask, int64_t n, float lr,
              float momentum, float weight_decay, bool nesterov, bool first_step, cudaStream_t s);
// Scalars as in te::ops::AdamwHyper (precomputed in double on the host, rounded once).
void adamw_step(float* p, const float* g, float* m, float* v, const uint8_t* mask, int64_t n,
                float decay_factor, float one_minus_beta1, float beta2, float one_minus_beta2,
                float eps, float step_size, float bias_correction2_sqrt, cudaStream_t s);

// ---- channels.cu: per-channel work on [N, C, HW] tensors (batch norm, conv bias) ----
// How many partial sums per channel `channel_sums` writes for this shape.
int channel_splits(int64_t n, int64_t c, int64_t hw, int sm_count);
// partials[(c * splits + j) * 2 + {0,1}] = partial sums {x, x^2} over channel c. (Batch
// norm's backward sums are bn_act_backward_sums below.)
template <typename T>
void channel_sums(const T* x, int64_t n, int64_t c, int64_t hw, int splits, double* partials,
                  cudaStream_t s);
// Batch-norm training statistics from channel_sums' partials: save_mean, save_invstd, running stats
// (PyTorch's update, unbiased variance), num_batches_tracked += 1 (may be null), and the affine
// map y = x * scale[c] + shift[c] into `coef` ([2C]: scale then shift). weight/bias may be null.
void bn_finalize_train(const double* partials, int splits, int64_t c, int64_t count, float eps,
                       float momentum, const float* weight, const float* bias,
                       float* running_mean, float* running_var, int64_t* num_batches_tracked,
                       float* save_mean, float* save_invstd, float* coef, cudaStream_t s);
// Eval: coef from running statistics; also mean/invstd ([C] each) for the backward sums.
void bn_eval_coef(const float* running_mean, const float* running_var, float eps,
                  const float* weight, const float* bias, int64_t c, float* coef, float* mean,
                  float* invstd, cudaStream_t s);
// From backward partials (bn_act_backward_sums, channel_sums_nhwc mode 1):
// dweight += sum(dy * xhat), dbias += sum(dy) (either may be null), and coef ([4C]: A, B, D,
// mean) for dx = A * dy + B * (x - mean) + D: train (through the batch statistics) or eval.
void bn_backward_finalize(const double* partials, int splits, int64_t c, int64_t count,
                          bool train, const float* weight, const float* mean, const float* invstd,
                          float* dweight, float* dbias, float* coef, cudaStream_t s);
// y[n, c, :] += bias[c]
void add_channel_bias(float* y, const float* bias, int64_t n, int64_t c, int64_t hw,
                      cudaStream_t s);
// out[c] += sum over splits of partials[(c * splits + j) * 2]
void add_channel_partials(const double* partials, int splits, int64_t c, float* out,
                          cudaStream_t s);

// sums[ch] = sum over splits of partials[(ch * splits + j) * 2], sums[C + ch] the same of
// partials[... + 1]: a channel's two sums ({x, x^2} or {dz, dz * xhat}) in double, added in the
// finalisations' order, for synchronised batch norm (kernels/batchnorm_sync.h).
void channel_partial_sums(const double* partials, int splits, int64_t c, double* sums,
                          cudaStream_t s);

// ---- batchnorm_act.cu: batch norm fused with residual add and ReLU, on [N, C, HW] ----
// y = act(x * coef[c] + coef[C + c] + r[i]) with coef from bn_finalize_train / bn_eval_coef;
// r may be null; act = ReLU (max(z, 0)) when `relu`, else the identity.
template <typename T>
void bn_act_apply(const T* x, const same_t<T>* r, T* y, const float* coef, int64_t n, int64_t c,
                  int64_t hw, bool relu, cudaStream_t s);
// Backward partials {sum dz, sum dz * xhat} per channel for dz = y > 0 ? dy : 0 (y null: dz = dy):
// {sum dz, sum dz * (x - mean[c]) * invstd[c]}, for bn_backward_finalize.
template <typename T>
void bn_act_backward_sums(const T* dy, const same_t<T>* y, const T* x, const float* mean,
                          const float* invstd, int64_t n, int64_t c, int64_t hw, int splits,
                          double* partials, cudaStream_t s);
// dx = (or +=) coef[c] * dz + coef[C + c] * (x - coef[3C + c]) + coef[2C + c] and dr = (or +=)
// dz, dz as above;
// dx or dr may be null.
template <typename T>
void bn_act_backward_apply(const T* dy, const same_t<T>* y, const T* x, same_t<T>* dx,
                           bool accumulate_dx, same_t<T>* dr, bool accumulate_dr,
                           const float* coef, int64_t n, int64_t c, int64_t hw, cudaStream_t s);

// ---- channels_nhwc.cu: batch norm (plain and fused) on channels-last [rows = N*H*W, C] ----
// The partials follow channel_sums' layout, so bn_finalize_train / bn_backward_finalize
// finish them; the coef arrays are theirs (and bn_eval_coef's).
// How many row ranges (splits) channel_sums_nhwc uses for this shape.
int channel_splits_nhwc(int64_t rows, int64_t c, int sm_count);
// partials[(c * splits + j) * 2 + {0,1}] = partial sums over channel c of
//   mode 0: {a, a^2}                               (a = x; b, relu_y, mean, invstd unused)
//   mode 1: {dz, dz * (b - mean[c]) * invstd[c]}   (a = dy, b = x; dz = a, or with relu_y
//                                                   non-null dz = relu_y > 0 ? a : 0)
template <typename T>
void channel_sums_nhwc(int mode, const T* a, const same_t<T>* b, const same_t<T>* relu_y,
                       const float* mean, const float* invstd, int64_t rows, int64_t c,
                       int splits, double* partials, cudaStream_t s);
// y = act(x * coef[c] + coef[C + c] + r) (r may be null; act = ReLU when `relu`, else identity)
template <typename T>
void bn_apply_nhwc(const T* x, const same_t<T>* r, T* y, const float* coef, int64_t rows,
                   int64_t c, bool relu, cudaStream_t s);
// dx = (or +=) coef[c] * dz + coef[C + c] * (x - coef[3C + c]) + coef[2C + c] and dr = (or +=) dz, dz as in
// channel_sums_nhwc mode 1; dx or dr may be null.
template <typename T>
void bn_backward_apply_nhwc(const T* dy, const same_t<T>* relu_y, const T* x, same_t<T>* dx,
                            bool accumulate_dx, same_t<T>* dr, bool accumulate_dr,
                            const float* coef, int64_t rows, int64_t c, cudaStream_t s);

// ---- pool.cu: pooling on [planes = N*C, H, W] ----
struct PoolGeometry {
  int64_t planes = 0, h = 0, w = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;
};
// y = window maximum, argmax = ih * W + iw of the first maximum (NaN wins, like PyTorch).
template <typename T>
void max_pool_forward(const T* x, T* y, int32_t* argmax, const PoolGeometry& g, cudaStream_t s);
// dx += dy routed to the saved argmax positions (dx is zeroed first unless accumulating).
// The window is not known here (the saved argmax says it all), so this scatters: with atomics
// (fast; the order of additions where windows overlap varies from run to run), or, when
// `deterministic`, one thread per plane adding its outputs in order.
// bf16/f16: each plane's gradient is gathered in float in shared memory (atomics there, or one
// thread adding in order when `deterministic`) and rounded once when stored, however many
// overlapping windows routed gradient to an element.
template <typename T>
void max_pool_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes,
                       int64_t in_plane, int64_t out_plane, bool accumulate, bool deterministic,
                       cudaStream_t s);
template <typename T>
void avg_pool_forward(const T* x, T* y, const PoolGeometry& g, cudaStream_t s);
template <typename T>
void avg_pool_backward(const T* dy, T* dx, const PoolGeometry& g, bool accumulate,
                       cudaStream_t s);
// y[plane] = mean of x[plane, 0..hw)
template <typename T>
void global_avg_pool_forward(const T* x, T* y, int64_t planes, int64_t hw, cudaStream_t s);
// dx[plane, i] = (or +=) dy[plane] / hw
template <typename T>
void global_avg_pool_backward(const T* dy, T* dx, int64_t planes, int64_t hw, bool accumulate,
                              cudaStream_t s);

// ---- pool_nhwc.cu: the same pooling on channels-last tensors (kernels/layout.h) ----
// x, y, dy, dx (and argmax) lie in [N, H, W, C] memory order; g describes the logical
// [N, C, H, W] pooling as above (g.planes = N * C) and `c` is C. Results are those of the NCHW
// launchers, element for element: the same windows scanned in the same order, so max, argmax
// and the float sums of average pooling agree bit for bit. argmax holds ih * W + iw (the
// spatial index within the image, as for NCHW), stored in y's NHWC order.
template <typename T>
void max_pool_forward_nhwc(const T* x, T* y, int32_t* argmax, const PoolGeometry& g, int64_t c,
                           cudaStream_t s);
// dx = (or +=) dy routed to argmax, dx zeroed first unless accumulating. f32: atomics into dx,
// or with `deterministic` one thread per (image, channel) adding its outputs in output order
// (the NCHW ordered kernel's sums in its order, so the same bits). bf16/f16: gathered in
// float in shared memory per (image, group of up to 32 channels) and rounded once on store
// (atomics there, or with `deterministic` one thread per channel in output order).
template <typename T>
void max_pool_backward_nhwc(const T* dy, const int32_t* argmax, T* dx, int64_t n, int64_t c,
                            int64_t in_hw, int64_t out_hw, bool accumulate, bool deterministic,
                            cudaStream_t s);
template <typename T>
void avg_pool_forward_nhwc(const T* x, T* y, const PoolGeometry& g, int64_t c, cudaStream_t s);
template <typename T>
void avg_pool_backward_nhwc(const T* dy, T* dx, const PoolGeometry& g, int64_t c,
                            bool accumulate, cudaStream_t s);
// y[n, c] = mean over p of x[n, p, c] (y is [N, C], layout-free; sums in double)
template <typename T>
void global_avg_pool_forward_nhwc(const T* x, T* y, int64_t n, int64_t c, int64_t hw,
                                  cudaStream_t s);
// dx[n, p, c] = (or +=) dy[n, c] / hw
template <typename T>
void global_avg_pool_backward_nhwc(const T* dy, T* dx, int64_t n, int64_t c, int64_t hw,
                                   bool accumulate, cudaStream_t s);

// ---- rows.cu: [rows, cols] helpers for Linear, and image normalisation ----
// y[r, j] += bias[j]
void add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t s);
// out[j] += sum over r of x[r, j] (in double, fixed order)
void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t s);
// out[n, c, p] = in[n, p, c] * scale[c] + shift[c] for a uint8 NHWC batch; c <= kMaxImageChannels.
constexpr int kMaxImageChannels = 16;
struct ChannelAffine {
  float scale[kMaxImageChannels];
  float shift[kMaxImageChannels];
};
template <typename T>
void normalize_u8_nhwc(const uint8_t* in, T* out, int64_t n, int64_t hw, int64_t c,
                       const ChannelAffine& affine, cudaStream_t s);
// normalize_nhwc.cu: the same map without the transpose, out[i] = in[i] * scale[i % c] +
// shift[i % c] over `pixels` * c elements (a channels-last output).
template <typename T>
void normalize_u8_nhwc_to_nhwc(const uint8_t* in, T* out, int64_t pixels, int64_t c,
                               const ChannelAffine& affine, cudaStream_t s);

}  // namespace te::cuda::launch
