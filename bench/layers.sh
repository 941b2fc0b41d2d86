#!/usr/bin/env bash
# Layer engine benchmark: the same generated data, the same machine, one run, each method in turn:
#   ours         bun bench/engine.ts: the exporter's layer writing (tar -> sha256 -> gzip (native zlib, level 2) ->
#                sha256 -> blob, blocks read and compressed on the worker threads, two layers at once)
#   ours-fflate  the same with CNB_LIFECYCLE_DEFLATE=fflate (the same bytes on every runtime)
#   ours-zstd    the same with -layer-compression zstd (application/vnd.oci.image.layer.v1.tar+zstd)
#   umoci        umoci insert of each directory into a layout
#   pigz         tar --sort=name ... | pigz -p2 -1 | sha256sum, one layer after another (no diffID, no blob file)
#   gzip         tar --sort=name ... | gzip -1 | sha256sum, the same with GNU gzip
# Usage: bench/layers.sh [quick|full] [warm|cold]      METHODS="ours umoci" bench/layers.sh full  (a subset)
#   warm (default): the data is read once before each method, as after a build, when the exporter finds it in memory;
#   cold: the page cache is dropped before each method, so every method reads the data from disk.
# Before the run, and before each method, it waits (up to 30 minutes) for the 1-minute load to fall below 0.6, and
# prints the load it started at. Data is generated under bench/data/<scale>, output goes under bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-quick}
cache=${2:-warm}
data=bench/data/$scale
out=bench/out/$scale
export PATH="$PWD/node_modules/.bin:$PATH"
[ -d "$data" ] || bun bench/generate.ts "$data" "$scale"
methods=${METHODS:-ours ours-fflate ours-zstd umoci pigz gzip}
rm -rf "$out"; mkdir -p "$out"
bytes=$(du -sb --apparent-size "$data" | cut -f1)

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() { # waits until the 1-minute load is below 0.6 (at most 30 minutes), then prints it
  for _ in $(seq 30); do
    awk -v l="$(load1)" 'BEGIN{exit !(l < 0.6)}' && break
    sleep 60
  done
  load1
}

measure() { # measure NAME COMMAND: runs it under GNU time, prints "name wall user sys rss load"
  local name=$1; shift
  sync
  if [ "$cache" = warm ]; then find "$data" -type f -exec cat {} + > /dev/null; else echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi
  local load; load=$(wait_quiet)
  /usr/bin/time -f "%e %U %S %M" -o "$out/$name.time" "$@" > "$out/$name.stdout"
  read -r wall user sys rss < "$out/$name.time"
  echo "$name $wall $user $sys $rss $load"
}

tar_layer() { tar --sort=name --owner=1000 --group=1000 --numeric-owner --mtime='1980-01-01 00:00:01Z' -C "$1" -cf - "$2"; }
export -f tar_layer
pipe_layers() { # pipe_layers DATA OUT COMPRESSOR...: every layer through the compressor, the result hashed and counted
  local data=$1 out=$2; shift 2
  for d in $(ls "$data"); do tar_layer "$data" "$d" | "$@" | tee >(wc -c > "$out.$d.size") | sha256sum > "$out.$d.digest"; done
}
export -f pipe_layers
umoci_layers() {
  umoci init --layout "$2/umoci" && umoci new --image "$2/umoci:bench"
  for d in $(ls "$1"); do umoci insert --image "$2/umoci:bench" "$1/$d" "/layers/bench/$d"; done
}
export -f umoci_layers

start_load=$(wait_quiet)
rows=()
for m in $methods; do
  case $m in
    ours) rows+=("$(measure ours bun bench/engine.ts "$data" "$out/ours/app")") ;;
    ours-fflate) rows+=("$(measure ours-fflate env CNB_LIFECYCLE_DEFLATE=fflate bun bench/engine.ts "$data" "$out/ours-fflate/app")") ;;
    ours-zstd) rows+=("$(measure ours-zstd bun bench/engine.ts "$data" "$out/ours-zstd/app" "" zstd)") ;;
    umoci) rows+=("$(measure umoci bash -c 'umoci_layers "$0" "$1"' "$data" "$out")") ;;
    pigz) rows+=("$(measure pigz bash -c 'pipe_layers "$0" "$1" pigz -p2 -1' "$data" "$out/pigz")") ;;
    gzip) rows+=("$(measure gzip bash -c 'pipe_layers "$0" "$1" gzip -1' "$data" "$out/gzip")") ;;
    *) echo "unknown method $m" >&2; exit 2 ;;
  esac
done

echo
echo "data: $data ($cache page cache), $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}') in $(ls "$data" | wc -l) layers; $(nproc) cores; $(date -u +%Y-%m-%d); 1-minute load at the start: $start_load"
echo
echo "| method | wall s | CPU s (user+sys) | MB/s (uncompressed) | peak RSS MB | output MB | ours vs it (throughput) | load before |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
ours_wall=$(echo "${rows[0]}" | awk '{print $2}')
for r in "${rows[@]}"; do
  set -- $r
  case $1 in
    ours*) outb=$(du -sb "$out/$1/app/blobs" | cut -f1) ;;
    umoci) outb=$(du -sb "$out/umoci/blobs" | cut -f1) ;;
    pigz | gzip) outb=$(cat "$out/$1".*.size | awk '{n += $1} END {print n}') ;;
  esac
  awk -v n="$1" -v w="$2" -v u="$3" -v s="$4" -v m="$5" -v l="$6" -v b="$bytes" -v o="$outb" -v ow="$ours_wall" \
    'BEGIN{printf "| %s | %.2f | %.2f | %.1f | %.0f | %.1f | %.2fx | %s |\n", n, w, u+s, b/1e6/w, m/1024, o/1e6, w/ow, l}'
done
