#!/usr/bin/env bash
# Times the README's main job (Fashion-MNIST class 0) and the CIFAR-10 class 0 job with the
# default settings, and writes their eval JSON and wall times to benchmarks/results/.
# Usage: bash benchmarks/walking-skeleton.sh   (after ./scripts/install.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results
data=${DUIAD_DATA:-../shared/data}
mkdir -p "$out" runs

job() {
  local name=$1; shift
  local start=$SECONDS
  node bin/duiad.js train "$@" --out "runs/$name" > "$out/$name.train.log" 2>&1
  node bin/duiad.js eval --model "runs/$name" --json > "$out/$name.eval.json"
  local wall=$((SECONDS - start))
  echo "{\"job\":\"$name\",\"wallSeconds\":$wall,\"eval\":$(cat "$out/$name.eval.json")}"
}

{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  job fashion-mnist-0 --dataset fashion-mnist --normal-class 0
  job cifar10-0 --dataset cifar10 --data "$data/cifar-10-binary.tar.gz" --normal-class 0
} | tee "$out/walking-skeleton.jsonl"
