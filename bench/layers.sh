#!/usr/bin/env bash
# Layer engine benchmark: the same generated data, the same machine, one run, three ways:
#   ours    bun bench/engine.ts (tar -> sha256 -> gzip -1 (fflate) -> sha256 -> blob, layers on 2 worker threads)
#   shell   tar --sort=name | tee >(sha256sum) | gzip -1 | sha256sum, one layer after another
#   ours-fast the same with CNB_LIFECYCLE_DEFLATE=fast (our own deflate instead of fflate)
#   two-pass  the reference lifecycle's way: tar to a file with sha256, then gzip -1 and sha256 in a second pass
#   umoci   umoci insert of each directory into a layout
# Usage: bench/layers.sh [quick|full] [cold|warm]
#   cold (default): the page cache is dropped before each method, so every method reads the data from disk;
#   warm: the data is read once before each method, as after a build, when the exporter finds it in memory.
# Data is generated under bench/data/<scale>, output goes under bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-quick}
cache=${2:-cold}
data=bench/data/$scale
out=bench/out/$scale
export PATH="$PWD/node_modules/.bin:$PATH"
[ -d "$data" ] || bun bench/generate.ts "$data" "$scale"
rm -rf "$out"; mkdir -p "$out"
bytes=$(du -sb --apparent-size "$data" | cut -f1)
sync

measure() { # measure NAME COMMAND: runs it under GNU time, prints a markdown row
  local name=$1; shift
  sync
  if [ "$cache" = warm ]; then find "$data" -type f -exec cat {} + > /dev/null; else echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi
  /usr/bin/time -f "%e %U %S %M" -o "$out/$name.time" "$@" > "$out/$name.stdout"
  read -r wall user sys rss < "$out/$name.time"
  echo "$name $wall $user $sys $rss"
}

shell_layers() {
  for d in $(ls "$1"); do
    tar --sort=name --owner=1000 --group=1000 --numeric-owner --mtime='1980-01-01 00:00:01Z' -C "$1" -cf - "$d" \
      | tee >(sha256sum > "$2/shell-$d.diffid") | gzip -1 | tee "$2/shell-$d.tar.gz" | sha256sum > "$2/shell-$d.digest"
  done
}
export -f shell_layers

# The reference lifecycle's way: tar to a file (hashing it as it is written), then read it again to gzip and hash.
twopass_layers() {
  for d in $(ls "$1"); do
    tar --sort=name --owner=1000 --group=1000 --numeric-owner --mtime='1980-01-01 00:00:01Z' -C "$1" -cf - "$d" \
      | tee "$2/twopass-$d.tar" | sha256sum > "$2/twopass-$d.diffid"
    gzip -1 < "$2/twopass-$d.tar" | tee "$2/twopass-$d.tar.gz" | sha256sum > "$2/twopass-$d.digest"
    rm "$2/twopass-$d.tar"
  done
}
export -f twopass_layers

umoci_layers() {
  umoci init --layout "$2/umoci" && umoci new --image "$2/umoci:bench"
  for d in $(ls "$1"); do umoci insert --image "$2/umoci:bench" "$1/$d" "/layers/bench/$d"; done
}
export -f umoci_layers

rows=()
rows+=("$(measure ours bun bench/engine.ts "$data" "$out/ours" 2)")
rows+=("$(measure ours-1thread bun bench/engine.ts "$data" "$out/ours1" 1)")
rows+=("$(measure ours-fast env CNB_LIFECYCLE_DEFLATE=fast bun bench/engine.ts "$data" "$out/oursfast" 2)")
rows+=("$(measure shell bash -c 'shell_layers "$0" "$1"' "$data" "$out")")
rows+=("$(measure two-pass bash -c 'twopass_layers "$0" "$1"' "$data" "$out")")
rows+=("$(measure umoci bash -c 'umoci_layers "$0" "$1"' "$data" "$out")")

echo
echo "data: $data ($cache page cache), $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}') in $(ls "$data" | wc -l) layers; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| method | wall s | CPU s (user+sys) | MB/s (uncompressed) | peak RSS MB | output MB | ours vs it (throughput) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
ours_wall=$(echo "${rows[0]}" | awk '{print $2}')
for r in "${rows[@]}"; do
  set -- $r
  case $1 in
    ours) outb=$(du -sb "$out/ours/blobs" | cut -f1) ;;
    ours-1thread) outb=$(du -sb "$out/ours1/blobs" | cut -f1) ;;
    ours-fast) outb=$(du -sb "$out/oursfast/blobs" | cut -f1) ;;
    shell) outb=$(cat "$out"/shell-*.tar.gz | wc -c) ;;
    two-pass) outb=$(cat "$out"/twopass-*.tar.gz | wc -c) ;;
    umoci) outb=$(du -sb "$out/umoci/blobs" | cut -f1) ;;
  esac
  awk -v n="$1" -v w="$2" -v u="$3" -v s="$4" -v m="$5" -v b="$bytes" -v o="$outb" -v ow="$ours_wall" \
    'BEGIN{printf "| %s | %.2f | %.2f | %.1f | %.0f | %.1f | %.2fx |\n", n, w, u+s, b/1e6/w, m/1024, o/1e6, w/ow}'
done
