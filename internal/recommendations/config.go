package recommendations

import (
	"fmt"

	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// DefaultPort is the tutorial's port for Recommendations, as its callers
// know it.
const DefaultPort = recommendationsclient.DefaultPort

// Config is Recommendations' own configuration; see Flags.
type Config struct {
	Port int // the gRPC port
	// CatalogHost is the Catalog to follow: host, host:port or a gRPC
	// target. Empty: the process gives the books (Deps.Books).
	CatalogHost string
	// MaxBooks is the most books the replica holds in memory.
	MaxBooks int
	// MaxLiveStreams caps the LiveRecommend streams the replica serves at
	// once, and MaxLiveStreamsPerCaller those of one caller (a client
	// address, under its certificate's identity; 0 is half of
	// MaxLiveStreams, so that two Marketplace replicas at least share
	// each Recommendations replica); past either, a stream ends at once
	// with RESOURCE_EXHAUSTED. Each holds LiveStreamBytes at most.
	MaxLiveStreams          int
	MaxLiveStreamsPerCaller int
}

// DefaultMaxLiveStreams fits a replica's memory budget, with
// DefaultMaxBooks books (docs/capacity.md).
const DefaultMaxLiveStreams = 6_000

// perCaller returns the cap on one caller's live streams.
func (c Config) perCaller() int {
	if c.MaxLiveStreamsPerCaller > 0 {
		return c.MaxLiveStreamsPerCaller
	}
	return max(1, c.MaxLiveStreams/2)
}

// LiveStreamBytes is the most memory one LiveRecommend stream holds on the
// server: its two goroutines, grpc-go's stream and, once it remembers
// MaxSessionBooks books, its Session (SessionBytes).
// TestLiveStreamMemory measures it; docs/capacity.md budgets with it.
// It holds as well for a client that sends events without reading their
// lists, until its stream ends (MaxPendingEvents), or reads them late
// through the windows it opens as it reads, as grpc-go's client does by
// default (TestLiveStreamUnreadMemory).
const LiveStreamBytes = 32 << 10

// LiveStreamStalledBytes is the most memory one LiveRecommend stream holds
// on the server when its client reads none of its lists and keeps its
// HTTP/2 windows at their smallest: the server's sends then wait with up
// to 64 KiB of lists queued (grpc-go's write quota of a stream, which no
// option sets) and MaxPendingEvents events read. Only a client that
// means to do so gets there: with mutual TLS, only the Marketplace's
// identity may open streams, and it reads every list as it comes
// (docs/capacity.md).
const LiveStreamStalledBytes = 128 << 10

// DefaultConfig returns Recommendations' defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, MaxBooks: DefaultMaxBooks, MaxLiveStreams: DefaultMaxLiveStreams}
}

// Flags declares Recommendations' own settings on s, namespace
// "recommendations", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Recommendations gRPC port; with -recommendations-replicas in bookshop up, the first of consecutive ports")
	s.Int(&c.MaxBooks, "max-books", c.MaxBooks, "the most books a replica holds in memory, its copy of the catalog: about 220 bytes each, two and a half times that while a new snapshot replaces the old; raise it with the memory limit")
	s.Int(&c.MaxLiveStreams, "live-streams", c.MaxLiveStreams, fmt.Sprintf("the live recommendation streams (shoppers' open book pages) a replica serves at once, each holding up to %d KiB: raise it with the memory limit (docs/capacity.md)", LiveStreamBytes>>10))
	s.Int(&c.MaxLiveStreamsPerCaller, "live-streams-per-caller", c.MaxLiveStreamsPerCaller, "the live recommendation streams one caller (a client address, such as a Marketplace replica's) may have open on a replica at once; 0 is half of -live-streams (in bookshop up, where the Marketplace is the one caller, all of them)")
}

// Dependencies declares, on the process's set, where the services that
// Recommendations calls are: CATALOG_HOST. `bookshop up` wires them
// itself and does not declare them.
func (c *Config) Dependencies(s *config.Set) {
	s.String(&c.CatalogHost, "catalog-host", c.CatalogHost, "the Catalog to take the books from and follow: host or host:port (default port 50060), or a gRPC target such as dns:///catalog:50060; empty serves the built-in catalog, in memory")
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if c.CatalogHost != "" {
		if _, err := rpc.Target(c.CatalogHost, catalogclient.DefaultPort); err != nil {
			return config.UsageErrorf("-catalog-host or CATALOG_HOST: %v", err)
		}
	}
	if c.MaxBooks < 1 {
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("max-books"), c.MaxBooks)
	}
	if c.MaxLiveStreams < 1 {
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("live-streams"), c.MaxLiveStreams)
	}
	if c.MaxLiveStreamsPerCaller < 0 || c.MaxLiveStreamsPerCaller > c.MaxLiveStreams {
		return config.UsageErrorf("%s %d: want 0 (half of %s) to %d", s.Setting("live-streams-per-caller"), c.MaxLiveStreamsPerCaller, s.Setting("live-streams"), c.MaxLiveStreams)
	}
	return s.CheckPort("port", c.Port)
}
