#!/usr/bin/env bash
# Builds the pinned developer tools of tools/go.mod (buf, protoc-gen-go,
# protoc-gen-go-grpc, staticcheck) into ./bin. Go's build cache makes a
# second run quick.
set -euo pipefail
cd "$(dirname "$0")/.."
GOBIN="$PWD/bin" go -C tools install tool
