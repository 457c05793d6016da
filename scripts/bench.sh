#!/usr/bin/env bash
# Builds and runs every benchmark of bench/ and its PyTorch peers, writing the raw JSON lines and
# the Markdown tables of docs/benchmarks.md (tables.md) into the output directory.
#
#   scripts/bench.sh                      # everything (about an hour on 2 idle cores)
#   scripts/bench.sh --quick              # fewer rounds and steps, no quadrature study
#   scripts/bench.sh --only train,kernel  # some of: matmul, train, conv, tracking, kernel, quadrature
#   scripts/bench.sh --own-kernels        # OpenBLAS's own kernels for this CPU (below)
#   options: --build DIR (default build), --out DIR (default <build>/bench-results)
#
# --own-kernels unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for every program of the run,
# pathgrad's and PyTorch's alike: some machines set them as a guard for older OpenBLAS builds,
# which holds OpenBLAS to older kernels than the CPU has (docs/benchmarks.md, "Plain training
# against PyTorch"). machine.txt and every JSON line's `machine` field say which kernels ran.
#
# Timings on a shared machine move with its load: every file records the load average, and the
# training comparison interleaves pathgrad and PyTorch runs and keeps each one's best.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build
OUT=""
QUICK=0
ONLY="matmul,train,conv,tracking,kernel,quadrature"
while (($#)); do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --only) ONLY="$2"; shift 2 ;;
    --own-kernels) unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; shift ;;
    *) echo "bench.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$BUILD/bench-results}"
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

# The peer runs on Debian's PyTorch (CPU) under the system Python, not a pyenv one on PATH.
PY=/usr/bin/python3
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
  echo "bench.sh: installing python3-torch and python3-numpy for the PyTorch peer"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
fi

if [ ! -f "$BUILD/build.ninja" ]; then meson setup "$BUILD" --buildtype=release >/dev/null; fi
ninja -C "$BUILD" bench/bench_matmul bench/bench_train bench/bench_conv bench/bench_tracking bench/bench_sample_kernel \
  bench/bench_quadrature >/dev/null
mkdir -p "$OUT"
B="$BUILD/bench"
DATA=../shared/data/cifar10-catdog-bin
CORES=$(nproc)

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $CORES"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "compiler: $(c++ --version | head -1)"
  echo "openblas: $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
  echo "torch: $("$PY" -c 'import torch; print(torch.__version__)')"
  "$PY" -c 'import torch; print(torch.__config__.show())'
} >"$OUT/machine.txt"

if wants matmul; then
  echo "bench.sh: matmul"
  { "$B/bench_matmul"; OPENBLAS_NUM_THREADS=1 "$B/bench_matmul"; } >"$OUT/matmul.md"
fi

if wants train; then
  echo "bench.sh: plain training, pathgrad and PyTorch interleaved"
  rounds=3; gsteps=10; csteps=3
  ((QUICK)) && { rounds=1; gsteps=3; csteps=1; }
  : >"$OUT/train.jsonl"
  for ((r = 0; r < rounds; r++)); do
    for t in 1 "$CORES"; do
      common=(--threads "$t" --reps 3 --warmup 2)
      "$B/bench_train" --model grokking --steps "$gsteps" "${common[@]}" >>"$OUT/train.jsonl"
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$PY" bench/train_peer.py --model grokking --steps "$gsteps" "${common[@]}" >>"$OUT/train.jsonl"
      "$B/bench_train" --model cnn --data "$DATA" --steps "$csteps" "${common[@]}" >>"$OUT/train.jsonl"
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$PY" bench/train_peer.py --model cnn --data "$DATA" --steps "$csteps" "${common[@]}" >>"$OUT/train.jsonl"
    done
  done
fi

if wants conv; then
  echo "bench.sh: the CNN's convolutions, lowering against conv2d_forward/backward's choice"
  reps=5
  ((QUICK)) && reps=2
  for t in 1 "$CORES"; do "$B/bench_conv" --threads "$t" --reps "$reps"; echo; done >"$OUT/conv.md"
fi

if wants tracking; then
  echo "bench.sh: tracking overhead"
  steps=5
  ((QUICK)) && steps=2
  : >"$OUT/tracking.jsonl"
  # The first steps of training: the most expensive ones (large updates, many ReLU crossings).
  # The CIFAR-2 CNN is left out: at the tracker's default tolerance its first tracked step did not
  # finish in 12 minutes (docs/benchmarks.md); the quadrature study below covers a small CNN.
  "$B/bench_tracking" --model grokking --threads "$CORES" --steps "$steps" --out "$OUT/tmp-tracking" >>"$OUT/tracking.jsonl"
fi

if wants kernel; then
  echo "bench.sh: per-sample kernel products"
  : >"$OUT/sample_kernel.jsonl"
  for t in 1 "$CORES"; do
    for dtype in float64 float32; do
      "$B/bench_sample_kernel" --threads "$t" --m 32 --n 4000 --p 89024 --dtype "$dtype" >>"$OUT/sample_kernel.jsonl"
    done
    "$B/bench_sample_kernel" --threads "$t" --m 128 --n 4000 --p 89024 >>"$OUT/sample_kernel.jsonl"
    "$B/bench_sample_kernel" --threads "$t" --m 32 --n 1000 --p 411362 >>"$OUT/sample_kernel.jsonl"
  done
fi

if wants quadrature && ((!QUICK)); then
  echo "bench.sh: quadrature rules (the long part)"
  # The configurations of docs/benchmarks.md: midpoint(100) with adaptive refinement and the small
  # CNN's adaptive modes are left out (each runs for many minutes and settles nothing).
  grok=(--model grokking --p 23 --n-train 150 --n-val 126 --probes 16 --steps 60 --threads "$CORES" --out "$OUT/tmp-quadrature")
  "$B/bench_quadrature" "${grok[@]}" --rules midpoint:1 >"$OUT/quadrature_grokking.jsonl"
  "$B/bench_quadrature" "${grok[@]}" --rules midpoint:100 --modes plain --modes kinks >>"$OUT/quadrature_grokking.jsonl"
  "$B/bench_quadrature" "${grok[@]}" --rules trapezoid --rules simpson --rules gauss_legendre:2 --rules gauss_legendre:4 \
    >>"$OUT/quadrature_grokking.jsonl"
  cnn=(--model cnn --data "$DATA" --width 4 --images 256 --batch 32 --probes 16 --steps 20 --threads "$CORES"
       --out "$OUT/tmp-quadrature")
  "$B/bench_quadrature" "${cnn[@]}" --rules midpoint:1 --rules midpoint:100 --rules trapezoid --rules simpson \
    --rules gauss_legendre:2 --rules gauss_legendre:4 --modes plain >"$OUT/quadrature_cnn.jsonl"
  "$B/bench_quadrature" "${cnn[@]}" --rules midpoint:1 --rules gauss_legendre:2 --modes kinks >>"$OUT/quadrature_cnn.jsonl"
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
"$PY" bench/tables.py "$OUT" >"$OUT/tables.md"
echo "bench.sh: results in $OUT (tables.md, *.jsonl, conv.md, matmul.md, machine.txt)"
