#pragma once
// Validation sharded over ranks (each evaluates its share, epoch_shard.h), combined: the
// counts (images, correct, per class) are summed exactly and the loss as a sum of per-image
// losses in double, so every rank gets the accuracy a single process would report for the
// same weights, and a loss equal up to the order of the additions.
#include "engine/distributed/data_parallel.h"
#include "engine/train/evaluate.h"

namespace te {

void combine_eval(DataParallel& dp, EvalResult& r);

}  // namespace te
