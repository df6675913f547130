package cli

import (
	"flag"
	"path/filepath"

	"github.com/bookshop-go/bookshop/internal/grpcapi"
)

// serverTLSFlags are the TLS settings of a gRPC server. With none, it
// speaks plaintext; with a certificate and key, TLS; with a client CA too,
// mutual TLS, and then the callers' certificate identities decide what
// they may call (grpcapi.DefaultPolicy).
type serverTLSFlags struct {
	cert, key, clientCA string
}

func (f *serverTLSFlags) register(fs *flag.FlagSet) map[string]string {
	fs.StringVar(&f.cert, "tls-cert", "", "serve TLS with this certificate (PEM); needs -tls-key (env TLS_CERT)")
	fs.StringVar(&f.key, "tls-key", "", "the private key of -tls-cert (PEM) (env TLS_KEY)")
	fs.StringVar(&f.clientCA, "tls-client-ca", "", "require client certificates from this CA (mutual TLS), and authorize callers by their identity (env TLS_CLIENT_CA)")
	return map[string]string{"tls-cert": "TLS_CERT", "tls-key": "TLS_KEY", "tls-client-ca": "TLS_CLIENT_CA"}
}

// apply loads the files into cfg: TLS, and authorization with mutual TLS.
func (f *serverTLSFlags) apply(cfg *grpcapi.ServerConfig) error {
	if f.cert == "" && f.key == "" && f.clientCA == "" {
		return nil
	}
	if f.cert == "" || f.key == "" {
		return usageErrorf("-tls-cert and -tls-key go together (env TLS_CERT, TLS_KEY)")
	}
	tlsCfg, err := grpcapi.ServerTLS(f.cert, f.key, f.clientCA)
	if err != nil {
		return err
	}
	cfg.TLS = tlsCfg
	grpcapi.Authorize(cfg, grpcapi.DefaultPolicy()) // with -tls-client-ca: mutual TLS
	return nil
}

// clientTLSFlags are the TLS settings of a gRPC client: the CA it trusts
// and, for mutual TLS, its own certificate, which carries its identity.
type clientTLSFlags struct {
	ca, cert, key string
}

func (f *clientTLSFlags) register(fs *flag.FlagSet) map[string]string {
	fs.StringVar(&f.ca, "tls-ca", "", "call over TLS, trusting servers certified by this CA (PEM) (env TLS_CA)")
	fs.StringVar(&f.cert, "tls-cert", "", "for mutual TLS, present this client certificate (PEM); needs -tls-key (env TLS_CERT)")
	fs.StringVar(&f.key, "tls-key", "", "the private key of -tls-cert (PEM) (env TLS_KEY)")
	return map[string]string{"tls-ca": "TLS_CA", "tls-cert": "TLS_CERT", "tls-key": "TLS_KEY"}
}

// apply loads the files into cfg.
func (f *clientTLSFlags) apply(cfg *grpcapi.ClientConfig) error {
	if f.ca == "" && f.cert == "" && f.key == "" {
		return nil
	}
	if f.ca == "" {
		return usageErrorf("-tls-ca is needed to call over TLS (env TLS_CA)")
	}
	if (f.cert == "") != (f.key == "") {
		return usageErrorf("-tls-cert and -tls-key go together (env TLS_CERT, TLS_KEY)")
	}
	tlsCfg, err := grpcapi.ClientTLS(f.ca, f.cert, f.key)
	if err != nil {
		return err
	}
	cfg.TLS = tlsCfg
	return nil
}

// tlsDir sets both sides from a directory made by `bookshop certs`: the
// server certificate for the servers, with the CA as client CA, and the
// identity's certificate for the client.
func tlsDir(dir, identity string) (serverTLSFlags, clientTLSFlags) {
	at := func(name string) string { return filepath.Join(dir, name) }
	return serverTLSFlags{cert: at("server.crt"), key: at("server.key"), clientCA: at("ca.crt")},
		clientTLSFlags{ca: at("ca.crt"), cert: at(identity + ".crt"), key: at(identity + ".key")}
}
