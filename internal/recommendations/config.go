package recommendations

import (
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
}

// DefaultConfig returns Recommendations' defaults.
func DefaultConfig() Config { return Config{Port: DefaultPort, MaxBooks: DefaultMaxBooks} }

// Flags declares Recommendations' own settings on s, namespace
// "recommendations", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Recommendations gRPC port; with -recommendations-replicas in bookshop up, the first of consecutive ports")
	s.Int(&c.MaxBooks, "max-books", c.MaxBooks, "the most books a replica holds in memory, its copy of the catalog: about 220 bytes each, two and a half times that while a new snapshot replaces the old; raise it with the memory limit")
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
	return s.CheckPort("port", c.Port)
}
