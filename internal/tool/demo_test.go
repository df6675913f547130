package tool_test

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/tool"
)

// demoListening matches the line `bookshop demo serve` prints when ready.
var demoListening = regexp.MustCompile(`^Demo server listening on (\S+)$`)

// startDemo runs `bookshop demo serve` on a free port until the test ends,
// and returns the address it prints, as a client on this machine reaches
// it: 127.0.0.1:PORT.
func startDemo(tb testing.TB) string {
	tb.Helper()
	addr := startCommand(tb, []string{"demo", "serve", "-port=0"}, demoListening)[1]
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("bookshop demo serve printed address %q: %v", addr, err)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// TestDemo runs `bookshop demo serve` and each client command against it,
// as docs/contracts.md shows, and checks what each prints.
func TestDemo(t *testing.T) {
	addr := startDemo(t)
	tests := []struct {
		cmd  string
		want []string
	}{
		{"unary", []string{
			`sent: message:"Hello Server you there?"`,
			`received: message:"Hello I am up and running received \"Hello Server you there?\" message from you" received:true`,
		}},
		{"server-streaming", []string{
			`sent: message:"Hello Server, send me some replies" count:3`,
			`received: message:"Reply 1 of 3 to \"Hello Server, send me some replies\"" index:1`,
			`received: message:"Reply 2 of 3 to \"Hello Server, send me some replies\"" index:2`,
			`received: message:"Reply 3 of 3 to \"Hello Server, send me some replies\"" index:3`,
		}},
		{"client-streaming", []string{
			`sent: message:"First message"`,
			`sent: message:"Second message"`,
			`sent: message:"Third message"`,
			`received: count:3 summary:"Received 3 messages: \"First message\", \"Second message\", \"Third message\""`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"demo", tt.cmd, "-addr=" + addr}
			if err := tool.Run(testContext(t, 10*time.Second), args, env(nil), &stdout, &stderr); err != nil {
				t.Fatalf("Run(%q) = %v; stderr:\n%s", args, err, stderr.String())
			}
			if got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("Run(%q) printed:\n%s\nwant:\n%s", args, stdout.String(), strings.Join(tt.want, "\n"))
			}
		})
	}

	// The two directions of a bidirectional call interleave as timing has
	// it: check each direction in order, and each echo after its message.
	t.Run("bidirectional", func(t *testing.T) {
		var stdout bytes.Buffer
		args := []string{"demo", "bidirectional"}
		if err := tool.Run(testContext(t, 10*time.Second), args, env(map[string]string{"DEMO_ADDR": addr}), &stdout, io.Discard); err != nil {
			t.Fatalf("Run(%q) with DEMO_ADDR=%s = %v", args, addr, err)
		}
		got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		var sent, received []string
		for _, l := range got {
			if s, ok := strings.CutPrefix(l, "sent: "); ok {
				sent = append(sent, s)
			} else if r, ok := strings.CutPrefix(l, "received: "); ok {
				received = append(received, r)
			}
		}
		want := []string{`message:"First message"`, `message:"Second message"`, `message:"Third message"`, `message:"Fourth message"`, `message:"Fifth message"`}
		if len(got) != 2*len(want) || !slices.Equal(sent, want) || !slices.Equal(received, want) {
			t.Fatalf("Run(%q) printed:\n%s\nwant each of %q sent, then received, in order", args, stdout.String(), want)
		}
		for _, m := range want {
			if slices.Index(got, "received: "+m) < slices.Index(got, "sent: "+m) {
				t.Errorf("Run(%q) printed the echo of %s before sending it:\n%s", args, m, stdout.String())
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		health := grpc_health_v1.NewHealthClient(conn)
		for _, service := range []string{"", "unary.Unary", "bidirectional.Bidirectional",
			"bookshop.demo.v1.ServerStreamingService", "bookshop.demo.v1.ClientStreamingService"} {
			resp, err := health.Check(testContext(t, 10*time.Second), &grpc_health_v1.HealthCheckRequest{Service: service})
			if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
				t.Errorf("Health.Check(%q) = %v, %v; want SERVING", service, resp.GetStatus(), err)
			}
		}
	})
}

// TestDemoServerDown checks that a client whose server is not there fails
// within its timeout, with an error that names the address.
func TestDemoServerDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	start := time.Now()
	err = tool.Run(testContext(t, 10*time.Second), []string{"demo", "unary", "-addr=" + addr, "-timeout=2s"}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("demo unary against a closed port = %v, want an error naming %s", err, addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("demo unary against a closed port took %v, want at most its 2s timeout", d)
	}
}

// TestDemoRefusesBadConfiguration checks that the demo commands refuse a
// bad setting at start, with a message that names it.
func TestDemoRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // words the error must hold
	}{
		{"no command", []string{"demo"}, nil, "no command"},
		{"unknown command", []string{"demo", "streaming"}, nil, `unknown command "streaming"`},
		{"stray argument", []string{"demo", "unary", "extra"}, nil, `unexpected argument "extra"`},
		{"port out of range", []string{"demo", "serve", "-port=70000"}, nil, "-port or DEMO_PORT 70000"},
		{"DEMO_PORT not a number", []string{"demo", "serve"}, map[string]string{"DEMO_PORT": "x"}, "DEMO_PORT"},
		{"bad shutdown timeout", []string{"demo", "serve", "-port=0", "-shutdown-timeout=0s"}, nil, "-shutdown-timeout"},
		{"bad DEMO_ADDR", []string{"demo", "client-streaming"}, map[string]string{"DEMO_ADDR": "demo:0"}, "DEMO_ADDR"},
		{"bad timeout", []string{"demo", "server-streaming", "-timeout=0s"}, nil, "-timeout"},
		{"DEMO_TIMEOUT not a duration", []string{"demo", "bidirectional"}, map[string]string{"DEMO_TIMEOUT": "soon"}, "DEMO_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tool.Run(testContext(t, 10*time.Second), tt.args, env(tt.env), io.Discard, io.Discard)
			if err == nil {
				t.Fatalf("Run(%q) = nil, want an error containing %q", tt.args, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run(%q) = %q, want it to contain %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestDemoHelp checks that help lists demo and that demo help lists its
// commands.
func TestDemoHelp(t *testing.T) {
	var stdout bytes.Buffer
	if err := tool.Run(testContext(t, 5*time.Second), []string{"help"}, env(nil), &stdout, io.Discard); err != nil {
		t.Fatalf("Run(help) = %v", err)
	}
	if !strings.Contains(stdout.String(), "demo") {
		t.Errorf("help does not list demo:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := tool.Run(testContext(t, 5*time.Second), []string{"demo", "help"}, env(nil), &stdout, io.Discard); err != nil {
		t.Fatalf("Run(demo help) = %v", err)
	}
	for _, cmd := range []string{"serve", "unary", "server-streaming", "client-streaming", "bidirectional"} {
		if !strings.Contains(stdout.String(), cmd) {
			t.Errorf("demo help does not list %q:\n%s", cmd, stdout.String())
		}
	}
}
