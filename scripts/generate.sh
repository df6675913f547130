#!/usr/bin/env bash
# Regenerates the Go code of the .proto files in proto/ into internal/gen,
# with the tool versions pinned in tools/go.mod.
#
#   scripts/generate.sh          regenerate in place
#   scripts/generate.sh --check  fail if the committed code is stale
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh

if [[ "${1:-}" != "--check" ]]; then
	rm -rf internal/gen
	bin/buf generate
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bin/buf generate --output "$tmp"
if ! diff -r "$tmp/internal/gen" internal/gen; then
	echo "generated code in internal/gen is stale: run scripts/generate.sh and commit the result" >&2
	exit 1
fi
echo "generated code is fresh"
