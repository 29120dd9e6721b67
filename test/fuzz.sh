#!/usr/bin/env bash
# Runs every Fuzz target of the module for FUZZTIME each (default 20s).
# A crasher is written under the package's testdata/fuzz/ by go test; keep
# it there once fixed, so that it runs as a regression case in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
status=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      status=1
    fi
  done
done
exit $status
