package recommendations

import (
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the tutorial's port for Recommendations.
const DefaultPort = 50051

// DefaultCatalogPort is the port of the Catalog when CatalogHost names
// none (catalog.DefaultPort, which this slice may not import).
const DefaultCatalogPort = 50060

// Config is Recommendations' own configuration; see Flags.
type Config struct {
	Port int // the gRPC port
	// CatalogHost is the Catalog to follow: host, host:port or a gRPC
	// target. Empty: the process gives the books (Deps.Books).
	CatalogHost string
}

// DefaultConfig returns Recommendations' defaults.
func DefaultConfig() Config { return Config{Port: DefaultPort} }

// Flags declares Recommendations' own settings on s, namespace
// "recommendations", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Recommendations gRPC port; with -recommendations-replicas in bookshop up, the first of consecutive ports")
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
		if _, err := rpc.Target(c.CatalogHost, DefaultCatalogPort); err != nil {
			return config.UsageErrorf("-catalog-host or CATALOG_HOST: %v", err)
		}
	}
	return s.CheckPort("port", c.Port)
}
