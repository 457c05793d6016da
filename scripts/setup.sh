#!/usr/bin/env bash
# Installs the Debian packages pathgrad needs (only those missing), then configures and builds
# the release build in ./build (not with --packages-only). Safe to run again: quiet and fast when
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ meson ninja-build pkg-config      # compiler and build system
  libopenblas-dev                       # BLAS (cblas_sgemm / cblas_dgemm)
  libxtensor-dev                        # xtensor 0.24.3 (and xtl)
  doctest-dev libfmt-dev                # tests, formatting
  zlib1g-dev                            # .gz data files (IDX)
  nlohmann-json3-dev                    # safetensors headers, manifest.json, summary.json
  libcli11-dev                          # command-line flags of the examples
  libopenmpi-dev openmpi-bin            # data-parallel training over MPI ranks, and its tests (docs/scaling.md)
  gnuplot-nox                           # the plots of every run report
  clang-format                          # the layout check of the test suite (.clang-format)
  dataset-fashion-mnist                 # real data for the training tests
)

bash scripts/install_packages.sh "${PACKAGES[@]}"
[ "${1:-}" = "--packages-only" ] && exit 0   # sanitize.sh builds elsewhere

if [ ! -f build/build.ninja ]; then
  # Quiet when it works; the whole meson output when it does not.
  if ! meson setup build --buildtype=release >/tmp/pathgrad-meson-setup.log 2>&1; then
    cat /tmp/pathgrad-meson-setup.log
    rm -rf build
    exit 1
  fi
fi
ninja -C build >/dev/null || ninja -C build   # on failure, rerun to show the errors
