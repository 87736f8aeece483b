#!/usr/bin/env bash
# Builds bin/contiv-cni: one static executable (no libc, nothing else needed on the host).
#   cni-plugin/build.sh [OUTPUT]     default OUTPUT: bin/contiv-cni at the top of the repository
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(dirname "$here")/bin/contiv-cni}"
command -v go >/dev/null || { echo "build.sh: Go is needed to build contiv-cni (https://go.dev/dl/, 1.26 or newer)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cd "$here"
CGO_ENABLED=0 go build -trimpath -tags grpcnotrace -ldflags="-s -w" -o "$out" .
