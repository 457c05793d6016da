#!/usr/bin/env bash
# Data-parallel training on 1 vs 2 MPI ranks (docs/scaling.md): the grokking example's default
# model and full batch (p = 113, 4,000 training pairs), plain training (--track off) or tracked
# (--track samples: the sample level, sharded over the ranks), the same number of steps in every
# configuration. Prints, per configuration, the training time per step
# (the run's own clock, which includes the validation pass every step, read from its last
# checkpoint; best of --rounds interleaved rounds) and each rank's peak resident memory
# (/usr/bin/time), and checks that the final weights (and the samples' influence) are bit-identical.
#
#   bash bench/mpi_scaling.sh                 # 200 steps per configuration
#   bash bench/mpi_scaling.sh --track samples --steps 5 --rounds 1   # the sharded sample level
#   options: --build DIR (default build), --steps N, --rounds N (default 2), --track LEVEL
#            (default off), --out DIR (default <build>/bench-mpi)
#
# mpirun runs with --bind-to none: on a machine shared with other work, pinning each rank to one
# core makes it wait for whatever else runs there (measured: 181 vs 102 ms per step).
#
# The configurations (all with --shards 2, so that all three train the same trajectory):
#   1 rank  × 2 threads   the whole machine for one process
#   1 rank  × 1 thread    the baseline for a rank
#   2 ranks × 1 thread    the whole machine for two ranks
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
STEPS=200
ROUNDS=2
OUT=""
TRACK=off
while (($#)); do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --track) TRACK="$2"; shift 2 ;;
    *) echo "mpi_scaling.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$BUILD/bench-mpi}"
rm -rf "$OUT" && mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # CI machines run as root

FLAGS=(--track "$TRACK" --no-report --steps "$STEPS" --checkpoint-every "$STEPS" --progress-every 1000000 --shards 2)

# run NAME RANKS THREADS: one session of a configuration (output in $OUT/NAME.log); appends its
# training seconds to $OUT/NAME.seconds and its ranks' peak RSS to $OUT/NAME.rss.
run() {
  local name=$1 ranks=$2 threads=$3 launcher=()
  ((ranks > 1)) && launcher=(mpirun -np "$ranks" --oversubscribe --bind-to none)
  rm -rf "${OUT:?}/$name"
  "${launcher[@]}" /usr/bin/time -f "peak RSS %M KB" "$BUILD/examples/grokking" "${FLAGS[@]}" \
    --threads "$threads" --out "$OUT/$name" >"$OUT/$name.log" 2>&1
  python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['extra']['seconds'])" \
    "$OUT/$name/checkpoint/state.json" >>"$OUT/$name.seconds"
  sed -n 's/^peak RSS \([0-9]*\) KB$/\1/p' "$OUT/$name.log" | sort -n | tr '\n' ' ' >"$OUT/$name.rss"
}

# row NAME RANKS THREADS: the table row of a configuration, its best time.
row() {
  local best
  best=$(sort -g "$OUT/$1.seconds" | head -1)
  printf '| %d | %d | %s | %.1f | %s|\n' "$2" "$3" "$STEPS" "$(echo "1000 * $best / $STEPS" | bc -l)" \
    "$(for k in $(cat "$OUT/$1.rss"); do printf '%d MB ' $((k / 1024)); done)"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 0; round < ROUNDS; ++round)); do
  run one_rank_two_threads 1 2
  run one_rank_one_thread 1 1
  run two_ranks 2 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| ranks | threads per rank | steps | ms per step | peak RSS per rank |"
echo "|---:|---:|---:|---:|:---|"
row one_rank_two_threads 1 2
row one_rank_one_thread 1 1
row two_ranks 2 1
# Same --shards and threads per rank: bit-identical (docs/scaling.md); another thread count may
# round matrix products differently (tensor/parallel.hpp).
compared=(weights/final.safetensors)
[[ $TRACK == samples || $TRACK == full ]] && compared+=(explaind/sample_data.npy)
for name in two_ranks one_rank_two_threads; do
  for file in "${compared[@]}"; do
    if cmp -s "$OUT/one_rank_one_thread/$file" "$OUT/$name/$file"; then
      echo "$file of $name: bit-identical to one_rank_one_thread"
    else
      echo "$file of $name: differs from one_rank_one_thread"
    fi
  done
done
