#!/usr/bin/env bash
# bench/ab.sh OLD NEW [ROUNDS]: the benchmarks of two checkouts (each built in its own build/),
# alternated in one sitting so that a shared machine's load falls on both alike:
#   ROUNDS x (ntk.lua quick, bench_mlp.lua relu, bench_mlp.lua small) for OLD then NEW,
#   then bench_mlp.lua flow and demo.lua once each. Every run is headed by the load average.
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build && cmake --build /tmp/base/build
#   bench/ab.sh /tmp/base . 2 > ab.log
set -u
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd) rounds=${3:-2}
run() { # label dir script args...
  local label=$1 dir=$2; shift 2
  echo "=== $label $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) :: $*"
  (cd "$dir" && NTKLAB_SOURCE_DIR="$dir" build/bin/ntklab "$@" 2>&1)
}
for ((r = 1; r <= rounds; r++)); do
  for side in old new; do
    dir=$old; [ "$side" = new ] && dir=$new
    run "$side r$r" "$dir" bench/ntk.lua quick
    run "$side r$r" "$dir" bench/bench_mlp.lua relu
    run "$side r$r" "$dir" bench/bench_mlp.lua small
  done
done
for side in old new; do
  dir=$old; [ "$side" = new ] && dir=$new
  run "$side" "$dir" bench/bench_mlp.lua flow
  run "$side" "$dir" bench/demo.lua all
done
