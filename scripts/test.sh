#!/usr/bin/env bash
# Runs every check and every test of Bookshop, as CI does (.ci/run calls
# this script). On a fresh Debian or Ubuntu machine with only Go, it first
# installs what the tests need: a C compiler for the race detector,
# Chromium for the end-to-end browser tests, Python's grpcio for the
# interop tests with the tutorial's Python clients and servers, and
# PostgreSQL, a throwaway cluster of which it starts for the tests of the
# services' PostgreSQL storage and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# install PACKAGE... installs Debian packages, with sudo when not root.
install() {
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "missing: $*; install it with your package manager and run again" >&2
		exit 1
	fi
	local sudo=""
	if [[ "$(id -u)" -ne 0 ]]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

step "Test dependencies"
if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
	echo "installing gcc (the race detector needs cgo)"
	install gcc libc6-dev
fi
if [[ -z "${CHROMIUM:-}" ]] && ! command -v chromium >/dev/null 2>&1; then
	echo "installing chromium (the end-to-end test drives it)"
	install chromium
fi
if [[ -z "${PYTHON:-}" ]] && ! /usr/bin/python3 -c "import grpc, grpc_tools" >/dev/null 2>&1; then
	echo "installing python3-grpcio and python3-grpc-tools (the interop tests run the tutorial's Python clients and servers)"
	install python3 python3-grpcio python3-grpc-tools python3-protobuf
fi
echo "ok"

step "Tools (pinned in tools/go.mod)"
scripts/tools.sh
echo "ok"

step "gofmt"
unformatted="$(gofmt -l cmd internal bench)"
if [[ -n "$unformatted" ]]; then
	echo "not gofmt-ed (run gofmt -w on them):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "ok"

step "go mod tidy"
go mod tidy -diff
go -C tools mod tidy -diff
echo "ok"

step "go vet"
go vet ./...
echo "ok"

step "staticcheck"
bin/staticcheck ./...
echo "ok"

step "buf lint"
bin/buf lint
echo "ok"

step "buf breaking"
# Against every version of the baseline that was ever committed, the
# contracts as they were generated at each step (scripts/generate.sh
# moves the baseline on only when nothing breaks it): the baseline as it
# is now equals the contracts (generate.sh --check), so checking against
# it alone would compare them with themselves. Its history needs the
# clone's history; a shallow clone is deepened once, and without it the
# check fails rather than pass unchecked.
if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
	git fetch --quiet --unshallow || true
fi
baselines=$(git log --format=%H -- buf.baseline.binpb)
if [[ -z "$baselines" || "$(git rev-parse --is-shallow-repository)" == true ]]; then
	echo "buf breaking needs the history of buf.baseline.binpb, which this clone lacks: clone it whole (git fetch --unshallow)" >&2
	exit 1
fi
tmp_baseline=$(mktemp --suffix=.binpb)
for commit in $baselines; do
	git show "$commit:buf.baseline.binpb" >"$tmp_baseline"
	if ! bin/buf breaking --against "$tmp_baseline"; then
		rm -f "$tmp_baseline"
		echo "the contracts break those of commit $commit (above): a caller of them would fail" >&2
		exit 1
	fi
done
rm -f "$tmp_baseline"
echo "ok: $(wc -w <<<"$baselines") versions of the contracts"

step "generated code"
scripts/generate.sh --check

step "PostgreSQL for the tests"
# The tests of the services' PostgreSQL storage (docs/database.md) run
# against a real server: unless BOOKSHOP_TEST_DATABASE_URL already names
# one, a throwaway cluster of the script's own, in a temporary directory,
# on 127.0.0.1 and a free port, stopped and removed when the script ends,
# whether the tests pass or not. Without the variable those tests skip;
# with it, a server that does not answer fails them.
if [[ -z "${BOOKSHOP_TEST_DATABASE_URL:-}" ]]; then
	pgdir="$(mktemp -d -t bookshop-pg.XXXXXX)"
	trap 'scripts/postgres.sh stop "$pgdir"' EXIT
	# Durability off: the cluster is thrown away, and the tests go faster.
	BOOKSHOP_TEST_DATABASE_URL="$(scripts/postgres.sh start "$pgdir" fsync=off synchronous_commit=off full_page_writes=off)"
	export BOOKSHOP_TEST_DATABASE_URL
else
	# The tests that crash a server of their own need the programs too.
	scripts/postgres.sh bin >/dev/null
	echo "using BOOKSHOP_TEST_DATABASE_URL as set"
fi

step "go test -race"
# The browser tests keep their screenshots (the homepage, a book page, the
# cart) here, for people to look at after a run.
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$PWD/test-artifacts}"
mkdir -p "$SCREENSHOT_DIR"
go test -race -count=1 ./...

step "memory budgets"
# The tests that hold a service to its memory budget (docs/capacity.md),
# again without -race, whose detector adds to every goroutine and
# allocation: under -race they skip (memtest.Budgets).
go test -count=1 -run 'Memory$' ./internal/...

step "benchmarks, once each"
# Each benchmark run once, so that one that no longer runs (a new option
# its setup lacks, a seed that changed) fails here rather than on the
# day someone measures with it.
go test -count=1 -run '^$' -bench . -benchtime 1x ./...

step "moving a shop of 100,000 orders to PostgreSQL"
# bookshop migrate-data on a generated shop, straight and killed half-way
# then run again, every row compared after, again without -race: under it
# the test moves a twentieth of the shop, as the detector makes it some
# ten times slower. -v prints each run's figures (rows, time, verified a
# table), as docs/database.md gives them.
go test -count=1 -run '^TestMigrateDataBigShop$' -v ./internal/tool

step "deploy: the Dockerfile, compose.yaml and Kubernetes manifests (module deploy/)"
# A module of its own, so that kustomize, the Kubernetes API types,
# compose-go and BuildKit's parser stay out of the main module.
unformatted="$(gofmt -l deploy)"
if [[ -n "$unformatted" ]]; then
	echo "not gofmt-ed (run gofmt -w on them):" >&2
	echo "$unformatted" >&2
	exit 1
fi
go -C deploy mod tidy -diff
go -C deploy vet ./...
go -C deploy test -count=1 ./...

step "fuzz (brief)"
# Each fuzz target for 4,000 inputs past its committed seed corpus
# (testdata/fuzz), a second or a few: a count, not a time, as a -fuzztime
# of seconds now and then ends a run with "context deadline exceeded",
# reported as the target's failure. go test -fuzz takes one target at a
# time. For a longer
# run of one: go test -run='^$' -fuzz='^FuzzRecommend$' ./internal/recommendations
for target in \
	./internal/catalog/catalogfile:FuzzParse \
	./internal/catalog/catalogfile:FuzzJSONRows \
	./internal/catalog/catalogfile:FuzzParsePrice \
	./internal/accounts:FuzzNormalizeAccount \
	./internal/payments/paymentsclient:FuzzCheckCard \
	./internal/promotions:FuzzCampaigns \
	./internal/catalog/search:FuzzSearch \
	./internal/recommendations:FuzzRecommend \
	./internal/marketplace:FuzzCategoryFromQuery \
	./internal/marketplace:FuzzBookIDFromPath \
	./internal/marketplace:FuzzSignUpForm; do
	go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime=4000x "${target%%:*}"
done
echo "ok"

printf '\nAll checks and tests passed.\n'
