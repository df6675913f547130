package launch_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// echo is a service for the tests: it accepts connections on its
// listener and writes its greeting to each, until ctx is done. asked
// counts the calls of its Port, which the process makes just before it
// listens.
func echo(ran chan<- process.Deps, asked *int) *launch.Service {
	var port int
	greeting := ""
	return &launch.Service{
		Name:    "echo",
		Title:   "Echo",
		Summary: "greets whoever connects",
		About:   "Greets whoever connects.",
		Flags: func(own *config.Set) {
			own.Port(&port, "port", 0, "the port")
			own.String(&greeting, "greeting", "hello", "what it says")
		},
		Validate: func(own *config.Set) error { return own.CheckPort("port", port) },
		Port: func() int {
			*asked++
			return port
		},
		Run: func(ctx context.Context, deps process.Deps) error {
			defer deps.Listener.Close()
			ran <- deps
			go func() {
				for {
					c, err := deps.Listener.Accept()
					if err != nil {
						return
					}
					c.Write([]byte(greeting))
					c.Close()
				}
			}()
			<-ctx.Done()
			return nil
		},
	}
}

// TestAlone runs a service alone as its command does: its own settings
// from its own environment variables, the process's from theirs, and a
// graceful stop when ctx ends.
func TestAlone(t *testing.T) {
	env := map[string]string{"ECHO_PORT": "0", "ECHO_GREETING": "bonjour", "LOG_LEVEL": "warn", "SHUTDOWN_TIMEOUT": "3s"}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ran := make(chan process.Deps, 1)
	var stderr bytes.Buffer
	done := make(chan error, 1)
	var asked int
	go func() {
		done <- launch.Alone("echo", echo(ran, &asked))(ctx, nil, func(k string) string { return env[k] }, nil, &stderr)
	}()
	var deps process.Deps
	select {
	case deps = <-ran:
	case err := <-done:
		t.Fatalf("Alone returned %v before running the service\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not start within 10 s")
	}
	if deps.Logger == nil || deps.DrainTimeout != 3*time.Second || deps.ServerTLS != nil || deps.HealthListener != nil {
		t.Errorf("deps = logger %v, drain %v, TLS %v, health %v; want a logger, 3s from SHUTDOWN_TIMEOUT, plaintext, no health port",
			deps.Logger != nil, deps.DrainTimeout, deps.ServerTLS != nil, deps.HealthListener != nil)
	}
	c, err := net.Dial("tcp", deps.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial the service's listener: %v", err)
	}
	var got bytes.Buffer
	got.ReadFrom(c)
	c.Close()
	if got.String() != "bonjour" {
		t.Errorf("the service said %q, want %q from ECHO_GREETING", got.String(), "bonjour")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Alone after ctx ended = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Alone did not return within 10 s of ctx ending")
	}
}

// TestAloneUsageErrors checks that bad settings are usage errors that name
// the setting, told before the service's port is opened.
func TestAloneUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"a port out of range", []string{"-port", "70000"}, nil, "-port"},
		{"no positive drain", nil, map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT"},
		{"an identity rule without a client CA", []string{"-tls-client-identity", "spiffe-or-cn"}, nil, "needs -tls-client-ca"},
		{"a certificate without its key", []string{"-tls-cert", "x.crt"}, nil, "-tls-cert and -tls-key go together"},
		{"an admin address that is none", []string{"-admin-addr", "nowhere"}, nil, "-admin-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked int
			s := echo(make(chan process.Deps, 1), &asked)
			s.Serves = true
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			err := launch.Alone("echo", s)(ctx, tt.args, func(k string) string { return tt.env[k] }, nil, &stderr)
			var usage *config.UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Alone(%q) = %v, want a usage error naming %q", tt.args, err, tt.want)
			}
			if asked != 0 {
				t.Errorf("Alone(%q) asked for the service's port before it failed: it listened first", tt.args)
			}
		})
	}
}

// TestListenInUse checks the advice when the port is taken: the setting
// to change.
func TestListenInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	lis, err := launch.Listen("127.0.0.1", port, "-port or ECHO_PORT")
	if err == nil {
		lis.Close()
		t.Fatalf("Listen on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "-port or ECHO_PORT") {
		t.Errorf("Listen on a taken port = %v, want advice naming the setting", err)
	}
}

// TestClientTLS checks what a caller's TLS files must be.
func TestClientTLS(t *testing.T) {
	tests := []struct {
		tls  launch.ClientTLS
		want string // in the error; "" for plaintext, no error
	}{
		{launch.ClientTLS{}, ""},
		{launch.ClientTLS{Cert: "a.crt", Key: "a.key"}, "-tls-ca is needed to call over TLS (env TLS_CA)"},
		{launch.ClientTLS{CA: "ca.crt", Cert: "a.crt"}, "-tls-client-cert and -tls-client-key go together"},
		{launch.ClientTLS{CA: "ca.crt", Key: "a.key", Tool: true}, "-tls-cert and -tls-key go together (env TLS_CERT, TLS_KEY)"},
		{launch.ClientTLS{CA: "ca.crt", Key: "a.key", Tool: true, NoEnv: true}, "-tls-cert and -tls-key go together"},
	}
	for _, tt := range tests {
		cfg, err := tt.tls.Config()
		switch {
		case tt.want == "" && (err != nil || cfg != nil):
			t.Errorf("%+v.Config() = %v, %v; want plaintext", tt.tls, cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v.Config() = %v; want an error with %q", tt.tls, err, tt.want)
		}
		if tt.tls.NoEnv && err != nil && strings.Contains(err.Error(), "env") {
			t.Errorf("%+v.Config() = %v; want no environment variable named", tt.tls, err)
		}
	}
}

// The main of a service's own binary, cmd/orders: the service, as its
// slice describes itself, run alone as the process.
func ExampleRun() {
	var port int
	orders := &launch.Service{
		Name:     "orders",
		Serves:   true,
		Flags:    func(own *config.Set) { own.Port(&port, "port", 50110, "the port") },
		Validate: func(own *config.Set) error { return own.CheckPort("port", port) },
		Port:     func() int { return port },
		Run: func(ctx context.Context, deps process.Deps) error {
			defer deps.Listener.Close()
			<-ctx.Done() // serve until the process is told to stop
			return nil
		},
	}
	launch.Run(orders) // in func main: ORDERS_PORT or -port, LOG_LEVEL, TLS_CERT, ...
}
