# syntax=docker/dockerfile:1

# The Bookshop image, on distroless static, run as a user that is not
# root: the tool, /bookshop, a static binary that runs any of the services
# (bookshop catalog, bookshop recommendations, bookshop marketplace,
# bookshop demo serve) and the tools (certs, import, export, health); and
# beside it the own binaries of Recommendations and the Marketplace,
# /recommendations and /marketplace, the two services on every page's
# path, whose CPU per call is the runtime's rather than a database's. Each
# runs the same service as `bookshop recommendations` (or `bookshop
# marketplace`), with the same flags and variables, but links no other
# service's server, so its package initialisation leaves a smaller
# live heap for the collector to mark: Recommendations' costs about a tenth
# less CPU per call than `bookshop recommendations`. All static binaries.
# Build it from the repository root:
#
#	docker build -t bookshop .
#
# With no arguments it runs the whole system in one container:
#
#	docker run --rm -p 8080:8080 bookshop
#
# compose.yaml and deploy/k8s run each service in a container of its own,
# from this same image: Recommendations and the Marketplace with their own
# binary as the entrypoint, the others with /bookshop and the service as
# its argument. deploy/dockerfile_test.go checks this file.

ARG GO_VERSION=1.26.8

# The build stage runs on the builder's own platform and cross-compiles for
# the target's, so that a multi-platform build (docker buildx build
# --platform linux/amd64,linux/arm64 .) needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# The modules first, in a layer of their own that stays cached until
# go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# Only the Go sources: .dockerignore keeps tests, test data and anything
# secret out of the context.
COPY cmd/ cmd/
COPY internal/ internal/
ARG TARGETOS TARGETARCH
# One go build, each binary into /out/ under its command's name:
# /out/bookshop, /out/recommendations, /out/marketplace. CGO_ENABLED=0:
# static binaries, which need no C library (SQLite is pure Go). -trimpath:
# no paths of the build machine in them. -s -w: no symbol table and debug
# information; stack traces keep their functions and lines.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/bookshop ./cmd/recommendations ./cmd/marketplace
# Empty directories for the catalog database and the certificates: a new
# Docker volume mounted on one of them takes its owner, the user below.
RUN mkdir /out/data /out/certs

# distroless static: CA certificates, time zone data, /etc/passwd with the
# user nonroot (65532), /tmp; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bookshop /bookshop
COPY --from=build /out/recommendations /recommendations
COPY --from=build /out/marketplace /marketplace
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/certs /certs
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# `bookshop up` and `bookshop catalog` keep the catalog database,
# catalog.db, in the working directory unless told otherwise (CATALOG_DB).
WORKDIR /data
# The default ports of the Marketplace, Recommendations and the Catalog.
EXPOSE 8080 50051 50060
ENTRYPOINT ["/bookshop"]
CMD ["up", "-host", "0.0.0.0"]
