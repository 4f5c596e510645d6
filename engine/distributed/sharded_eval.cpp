#include "engine/distributed/sharded_eval.h"

#include <vector>

namespace te {

void combine_eval(DataParallel& dp, EvalResult& r) {
  const size_t k = r.class_total.size();
  // Integers below 2^53 are exact in double.
  std::vector<double> v = {r.loss * static_cast<double>(r.images), static_cast<double>(r.images),
                           static_cast<double>(r.correct)};
  for (size_t c = 0; c < k; ++c) {
    v.push_back(static_cast<double>(r.class_total[c]));
    v.push_back(static_cast<double>(r.class_correct[c]));
  }
  dp.comm().allreduce_sum(v.data(), static_cast<int64_t>(v.size()));
  r.images = static_cast<int64_t>(v[1]);
  r.correct = static_cast<int64_t>(v[2]);
  r.loss = r.images > 0 ? v[0] / v[1] : 0;
  r.accuracy = r.images > 0 ? v[2] / v[1] : 0;
  for (size_t c = 0; c < k; ++c) {
    r.class_total[c] = static_cast<int64_t>(v[3 + 2 * c]);
    r.class_correct[c] = static_cast<int64_t>(v[4 + 2 * c]);
  }
  r.images_per_s = r.seconds > 0 ? static_cast<double>(r.images) / r.seconds : 0;
}

}  // namespace te
