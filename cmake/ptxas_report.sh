#!/usr/bin/env bash
# Compiler launcher for te_cuda's .cu files (kernels/cuda/CMakeLists.txt): runs the compile
# command ("$@", itself perhaps ccache + nvcc) and keeps what ptxas reports about each kernel
# (-Xptxas -v: registers, stack frame, spills, shared memory) in <object>.ptxas.txt, where
# scripts/check_kernel_resources.py reads it. The report lines are kept off the build output;
# anything else on stderr (warnings, errors) still shows.
out=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "-o" ]; then out=$arg; fi
  prev=$arg
done
report="${out:-/dev/null}.ptxas.txt"
[ -n "$out" ] || report=/dev/null
"$@" 2>"$report"
rc=$?
grep -v -e '^ptxas info' -e 'bytes stack frame' "$report" >&2
exit $rc
