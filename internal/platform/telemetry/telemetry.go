// Package telemetry is how Bookshop's services observe themselves:
// Prometheus metrics ([Metrics]), OpenTelemetry tracing with W3C trace
// context ([Tracing]), trace ids in the logs ([LogHandler]), and the admin
// HTTP handler that serves /metrics and pprof ([AdminHandler]), on a port
// of its own, never on a public one; and the services' logs: the handlers
// that format them ([NewTextHandler], [NewJSONHandler]) and the batching
// writer that writes them ([LogWriter]).
//
// Each part is optional and passed in: a nil *Metrics counts nothing and a
// nil *Tracing traces nothing, at no cost on the hot path, so that every
// server and client (package rpc, the Marketplace) takes them as plain
// configuration. A slice's own metrics are its own, registered on the
// process's registry with [Register]; nothing here knows a service.
// Nothing here is global: no default registry, no global tracer
// provider.
package telemetry
