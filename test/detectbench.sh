#!/usr/bin/env bash
# The whole-process figure of `lachan detect` (issue 18): all SigmaHQ rules
# on one core (taskset -c 0), over 200,000 alert-dense Windows events and
# 200,000 benign ones, ROUNDS runs of each (default 3).
#
# Events per CPU-second count the event work only: each run's user+system
# CPU less that of the same command over an empty file, which is rule
# loading (about a second) and start-up. The event files come from
# TestWriteDetectEvents; the rules from $LACHAN_SHARED_DATA (default
# ../shared/data). Each line printed is one JSON object per run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
data=${LACHAN_SHARED_DATA:-$(cd .. && pwd)/shared/data}
for tool in taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "detectbench: $tool is missing" >&2; exit 1; }
done
rules=()
for d in "$data"/sigma/sigmahq/rules*; do
  [ -d "$d" ] && rules+=(--rules "$d")
done
[ ${#rules[@]} -gt 0 ] || { echo "detectbench: no SigmaHQ rules under $data/sigma/sigmahq" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/lachan" ./server/cmd/lachan
go test -count=1 -run '^TestWriteDetectEvents$' ./server/cmd/lachan -args -detect-events "$dir" >/dev/null
: > "$dir/empty.jsonl"

# cpu FILE: the user+system CPU-seconds of one detect run over FILE.
cpu() {
  taskset -c 0 /usr/bin/time -f '%U %S' -o "$dir/time" \
    "$dir/lachan" detect "${rules[@]}" "$1" > "$dir/out" 2> "$dir/err" ||
    { cat "$dir/err" >&2; exit 1; }
  awk '{ printf "%.2f", $1 + $2 }' "$dir/time"
}

for set in dense benign; do
  events=$(wc -l < "$dir/$set.jsonl")
  for r in $(seq "$rounds"); do
    base=$(cpu "$dir/empty.jsonl")
    total=$(cpu "$dir/$set.jsonl")
    alerts=$(wc -l < "$dir/out")
    awk -v set="$set" -v n="$events" -v a="$alerts" -v t="$total" -v b="$base" -v r="$r" 'BEGIN {
      w = t - b
      if (w <= 0) { print "detectbench: no CPU time measured" > "/dev/stderr"; exit 1 }
      printf "{\"set\":\"%s\",\"round\":%d,\"events\":%d,\"alerts\":%d,\"cpu_s\":%.2f,\"loading_cpu_s\":%.2f,\"events_per_cpu_s\":%.0f}\n", set, r, n, a, t, b, n / w
    }'
  done
done
