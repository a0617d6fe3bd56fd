#!/usr/bin/env bash
# Installs everything duiad needs on Debian 12 (run as root): libtorch and the build tools
# from Debian, Fashion-MNIST from Debian, the npm packages, then builds the native engine
# and compiles the TypeScript. Downloads only from Debian's archive and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the headless browser the report test opens reports in (puppeteer-core drives it).
packages=(libtorch-dev libopenblas0-pthread dataset-fashion-mnist build-essential python3 chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# libtorch's matrix products call the system BLAS (libblas.so.3). Debian's reference BLAS is
# an order of magnitude slower than OpenBLAS; make sure the alternative points at OpenBLAS.
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ -e "$openblas/libblas.so.3" ] && command -v update-alternatives >/dev/null; then
  update-alternatives --set libblas.so.3-x86_64-linux-gnu "$openblas/libblas.so.3" >&2 || true
  update-alternatives --set liblapack.so.3-x86_64-linux-gnu "$openblas/liblapack.so.3" >&2 || true
fi

# npm ci runs the package's own install (node-gyp, against /usr/include/node) and prepare (tsc).
npm ci --no-audit --no-fund
