#!/usr/bin/env bash
# Regenerates the Go code of the .proto files in proto/ into internal/gen,
# with the tool versions pinned in tools/go.mod, and the compatibility
# baseline of the contracts, buf.baseline.binpb.
#
#   scripts/generate.sh          regenerate in place
#   scripts/generate.sh --check  fail if the committed code or baseline is stale
#
# The baseline is the contracts as last generated, built without their
# comments (`buf build --exclude-source-info`): scripts/test.sh checks that
# no change breaks a caller of it (`buf breaking`, with the rules in
# buf.yaml). It moves on only here, and only when the contracts as they are
# now break nothing of it, so that what a contract once had on the wire
# stays, one compatible step after another. A change that must break a
# contract on purpose cannot be made through this script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh

baseline=buf.baseline.binpb

if [[ "${1:-}" != "--check" ]]; then
	if [[ ! -f "$baseline" ]]; then
		# Made anew, it would hold only what the contracts are now: restore
		# it (git checkout -- buf.baseline.binpb) rather than lose what it held.
		echo "$baseline is missing: restore it from git; scripts/test.sh also checks the contracts against every version of it committed" >&2
		exit 1
	fi
	if ! bin/buf breaking --against "$baseline"; then
		echo "the contracts break $baseline (above): a caller of the contracts as they were would fail; change them compatibly (new fields, new RPCs)" >&2
		exit 1
	fi
	rm -rf internal/gen
	bin/buf generate
	bin/buf build --exclude-source-info --output "$baseline"
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bin/buf generate --output "$tmp"
if ! diff -r "$tmp/internal/gen" internal/gen; then
	echo "generated code in internal/gen is stale: run scripts/generate.sh and commit the result" >&2
	exit 1
fi
bin/buf build --exclude-source-info --output "$tmp/$baseline"
if ! cmp -s "$tmp/$baseline" "$baseline"; then
	echo "$baseline is not the contracts as they are: run scripts/generate.sh and commit the result" >&2
	exit 1
fi
echo "generated code and $baseline are fresh"
