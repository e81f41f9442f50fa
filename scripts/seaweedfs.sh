#!/usr/bin/env bash
# seaweedfs.sh: make sure the SeaweedFS server the S3 tests run against is built, and print its
# path as the last line. The build takes minutes (hundreds of packages), so the binary is cached
# outside the checkout and built only when missing:
#
#   scripts/seaweedfs.sh            # build if needed, print the path
#   WEED_CACHE=DIR scripts/seaweedfs.sh
#
# The version is the one internal/tools/seaweedfs/go.mod requires; `go install` refuses that
# module (its go.mod has a replace directive), so the binary is built from that wrapper module,
# which repeats the replace. The cache name carries the commit, so a new pin builds a new binary.
# Tests find the same file (internal/s3test), or the one CALLREC_WEED names.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

mod=internal/tools/seaweedfs
version=$(awk '$1 == "require" && $2 == "github.com/seaweedfs/seaweedfs" {print $3}' "$mod/go.mod")
if [ -z "$version" ]; then
  echo "seaweedfs.sh: no github.com/seaweedfs/seaweedfs requirement in $mod/go.mod" >&2
  exit 1
fi
commit=${version##*-}
cache=${WEED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callrec}
bin="$cache/weed-${commit:0:12}"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "seaweedfs.sh: using the cached $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# One build at a time: CI starts this in the background and a developer may run it beside.
exec 9>"$cache/.weed.lock"
flock 9
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "seaweedfs.sh: built meanwhile by another run: $bin" >&2
  echo "$bin"
  exit 0
fi

echo "seaweedfs.sh: building SeaweedFS $version into $bin (minutes; modules from the Go proxy)" >&2
start=$(date +%s)
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$mod" && go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$tmp" github.com/seaweedfs/seaweedfs/weed)
"$tmp" version >/dev/null
mv "$tmp" "$bin"
echo "seaweedfs.sh: built in $(( $(date +%s) - start )) s: $bin" >&2
echo "$bin"
