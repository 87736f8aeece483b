#!/usr/bin/env bash
# Generates the Go code of proto/cni.proto into cni-plugin/cnipb/.
#   cni-plugin/generate.sh          regenerate after editing proto/cni.proto
#   cni-plugin/generate.sh --check  fail if the committed code is not what the proto gives (CI)
# The generators are pinned so that the committed code is reproducible; they
# are built from the Go module proxy into a temporary directory. protoc is
# Debian's protobuf-compiler (its version is part of the generated header).
set -euo pipefail
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
PKG=contivctl/cni-plugin/cnipb

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
command -v protoc >/dev/null || { echo "generate.sh: protoc is missing (apt-get install protobuf-compiler)" >&2; exit 1; }
command -v go >/dev/null || { echo "generate.sh: go is missing" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp/bin" go install "$PROTOC_GEN_GO"
GOBIN="$tmp/bin" go install "$PROTOC_GEN_GO_GRPC"
mkdir -p "$tmp/out"
PATH="$tmp/bin:$PATH" protoc -I "$root/proto" \
    --go_out="$tmp/out" --go_opt=paths=source_relative --go_opt="Mcni.proto=$PKG;cnipb" \
    --go-grpc_out="$tmp/out" --go-grpc_opt=paths=source_relative --go-grpc_opt="Mcni.proto=$PKG;cnipb" \
    cni.proto

if [ "$check" = 1 ]; then
    if ! diff -ru "$here/cnipb" "$tmp/out"; then
        echo "generate.sh: cni-plugin/cnipb differs from what proto/cni.proto gives; run cni-plugin/generate.sh" >&2
        exit 1
    fi
    echo "cni-plugin/cnipb is current"
else
    rm -f "$here"/cnipb/*.pb.go
    cp "$tmp"/out/*.pb.go "$here/cnipb/"
fi
