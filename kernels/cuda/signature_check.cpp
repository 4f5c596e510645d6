// Compile-time proof that every te::ops::cuda function has exactly the signature of its CPU
// twin, so switching dispatch.h to the CUDA kernels (TE_WITH_CUDA_KERNELS) cannot fail to
// compile or link because of a mismatch. No code is generated from this file.
#include <type_traits>

#include "kernels/cuda/ops_cuda.h"

namespace te::ops {
#define TE_SAME_SIGNATURE(fn)                                                          \
  static_assert(std::is_same_v<decltype(&cpu::fn), decltype(&cuda::fn)>,               \
                "te::ops::cuda::" #fn " must have the signature of te::ops::cpu::" #fn)

TE_SAME_SIGNATURE(add_n);
TE_SAME_SIGNATURE(copy_or_add);
TE_SAME_SIGNATURE(activation_forward);
TE_SAME_SIGNATURE(activation_backward);
TE_SAME_SIGNATURE(dropout_forward);
TE_SAME_SIGNATURE(dropout_backward);
TE_SAME_SIGNATURE(concat_forward);
TE_SAME_SIGNATURE(concat_backward);
TE_SAME_SIGNATURE(softmax_xent_forward);
TE_SAME_SIGNATURE(softmax_xent_backward);
TE_SAME_SIGNATURE(softmax_rows);
TE_SAME_SIGNATURE(count_correct);
TE_SAME_SIGNATURE(sgd_step);
TE_SAME_SIGNATURE(adamw_step);
TE_SAME_SIGNATURE(sum_of_squares);
TE_SAME_SIGNATURE(scale_inplace);
TE_SAME_SIGNATURE(all_finite);
TE_SAME_SIGNATURE(batchnorm_forward_train);
TE_SAME_SIGNATURE(batchnorm_forward_eval);
TE_SAME_SIGNATURE(batchnorm_backward_train);
TE_SAME_SIGNATURE(batchnorm_backward_eval);
TE_SAME_SIGNATURE(conv2d_forward);
TE_SAME_SIGNATURE(conv2d_backward_input);
TE_SAME_SIGNATURE(conv2d_backward_params);
TE_SAME_SIGNATURE(max_pool2d_forward);
TE_SAME_SIGNATURE(max_pool2d_backward);
TE_SAME_SIGNATURE(avg_pool2d_forward);
TE_SAME_SIGNATURE(avg_pool2d_backward);
TE_SAME_SIGNATURE(global_avg_pool_forward);
TE_SAME_SIGNATURE(global_avg_pool_backward);
TE_SAME_SIGNATURE(linear_forward);
TE_SAME_SIGNATURE(linear_backward_input);
TE_SAME_SIGNATURE(linear_backward_params);
TE_SAME_SIGNATURE(normalize_images);
#undef TE_SAME_SIGNATURE
}  // namespace te::ops
