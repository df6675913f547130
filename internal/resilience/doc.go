// Package resilience holds the fault tests of Bookshop: several
// Recommendations replicas behind one Marketplace under load, over real
// gRPC and HTTP on loopback, while replicas are killed, stopped or slowed.
// They check what the shared gRPC setup of package rpc (internal/platform/rpc) promises: calls
// spread over the replicas (round_robin), a dead replica gets no calls
// (client-side health checking, retries of UNAVAILABLE), and pages keep
// answering within their deadline.
package resilience
