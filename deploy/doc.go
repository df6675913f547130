// Package deploy holds no code: it is the module of Bookshop's deployment
// files (the Dockerfile and compose.yaml at the repository's root, the
// Kubernetes manifests in k8s/, and the settings of the Compose profile
// observability in observability/), whose tests check them without a
// container engine or a cluster. It is a module of its own so that the
// libraries the tests need (kustomize, the Kubernetes API types,
// compose-go, BuildKit's Dockerfile parser, Prometheus's configuration
// and PromQL parsers) stay out of Bookshop's.
//
// The tests build the bookshop binary as the Dockerfile does, from the
// build context that .dockerignore leaves, and read the flags and
// environment variables of its commands from their -h output: the files
// must agree with the binary, not with a copy of its settings.
package deploy
