#!/usr/bin/env bash
# Peak memory of the layer engine on one 1 GiB layer (512 MiB of random bytes, 512 MiB of compressible text):
# the pipeline keeps a bounded number of 1 MiB blocks in flight, so the peak does not grow with the layer.
# Usage: bench/memory.sh        (data under bench/data/1gib, output under bench/out/)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
data=bench/data/1gib/layer
if [ ! -f "$data/text.log" ]; then
  mkdir -p "$data"
  head -c 512M /dev/urandom > "$data/random.bin"
  (yes "a compressible log line with some words and the number 1234567890" || true) | head -c 512M > "$data/text.log"
fi
rm -rf bench/out/memory
for workers in 1 2; do
  /usr/bin/time -f "workers=$workers: wall %e s, CPU %U+%S s, peak RSS %M KB" bun bench/engine.ts bench/data/1gib bench/out/memory "$workers" > /dev/null
  rm -rf bench/out/memory
done
