# The few commands people run. Each is a thin wrapper: the scripts and the
# go command work without make.
.PHONY: run test generate tools fmt bench perf

run: ## run the whole system on embedded defaults
	go run ./cmd/bookshop up

test: ## every check and test, as CI runs them
	./scripts/test.sh

generate: ## regenerate internal/gen from proto/ with the pinned tools
	./scripts/generate.sh

tools: ## build the pinned tools into ./bin
	./scripts/tools.sh

fmt: ## gofmt the code
	gofmt -w cmd internal bench

bench: ## the go test benchmarks of the hot paths
	go test -run='^$$' -bench=. -benchmem ./...

perf: ## the performance targets: servers and load on their own cores, one table (about ten minutes, plus the build)
	./scripts/bench.sh
