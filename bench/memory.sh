#!/usr/bin/env bash
# Peak memory of the layer engine on one 1 GiB layer (512 MiB of random bytes, 512 MiB of compressible text), with
# the default engine (zlib) and with fflate, on 1 and 2 threads: the pipeline keeps a bounded number of 1 MiB blocks
# in flight, so the peak does not grow with the layer. Each run waits for the 1-minute load to fall below 0.6.
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
find "$data" -type f -exec cat {} + > /dev/null
echo "| engine | workers | wall s | CPU s (user+sys) | peak RSS MB | blob MB | load before |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for engine in zlib fflate; do
  for workers in 1 2; do
    for _ in $(seq 30); do awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{exit !(l < 0.6)}' && break; sleep 60; done
    load=$(cut -d' ' -f1 /proc/loadavg)
    rm -rf bench/out/memory
    CNB_LIFECYCLE_DEFLATE=$engine /usr/bin/time -f "%e %U %S %M" -o bench/out/memory.time bun bench/engine.ts bench/data/1gib bench/out/memory "$workers" > /dev/null
    read -r wall user sys rss < bench/out/memory.time
    blob=$(du -sb bench/out/memory/blobs | cut -f1)
    awk -v e="$engine" -v w="$workers" -v t="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v b="$blob" -v l="$load" \
      'BEGIN{printf "| %s | %d | %.2f | %.2f | %.0f | %.1f | %s |\n", e, w, t, u+s, m/1024, b/1e6, l}'
  done
done
rm -rf bench/out/memory
