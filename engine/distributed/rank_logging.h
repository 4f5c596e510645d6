#pragma once
// Logging on a data-parallel job: rank 0 logs as a single process does (console and
// train.log); every other rank logs warnings and errors only, to the console, each line
// carrying its rank, so N ranks do not print N copies of the progress and a warning says
// which rank saw it.
namespace te {

// For ranks > 0; rank 0 keeps the ordinary logger.
void log_as_rank(int rank);

}  // namespace te
