package rpc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The flow-control windows that servers and clients set: a stream may
// have 1 MiB unread, a connection 2 MiB. Set, they turn off grpc-go's
// estimate of the link's bandwidth-delay product, whose PING and its
// answer cost a write and a read on each side of a call between two
// services that call each other now and then.
const (
	wantStreamWindow = 1 << 20
	wantConnWindow   = 2 << 20
)

// TestServerWindows calls Recommend over a raw HTTP/2 connection: the
// server's SETTINGS give the stream window, a WINDOW_UPDATE brings the
// connection's to its size, and the server answers, OK, without a PING.
func TestServerWindows(t *testing.T) {
	addr := startBuiltin(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a plain TCP connection
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/Recommendations/Recommend"}, {Name: ":authority", Value: addr},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	} {
		enc.WriteField(f) //nolint:errcheck // into a bytes.Buffer
	}
	msg, err := proto.Marshal(&recommendationspb.RecommendationRequest{UserId: 1, MaxResults: 1})
	if err != nil {
		t.Fatal(err)
	}
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, append(body, msg...)); err != nil {
		t.Fatal(err)
	}

	var (
		streamWindow uint32
		connWindow   uint32 = 65535 // HTTP/2's first window, before updates
		pings        int
		answered     bool
		status       string
	)
	for !answered {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read the answer: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				streamWindow = v
			}
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connWindow += f.Increment
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				pings++
				fr.WritePing(true, f.Data) //nolint:errcheck // answered as a client does
			}
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				answered = true
				for _, hf := range f.Fields {
					if hf.Name == "grpc-status" {
						status = hf.Value
					}
				}
			}
		}
	}
	if status != "0" {
		t.Errorf("the call ended with grpc-status %q, want 0 (OK)", status)
	}
	if streamWindow != wantStreamWindow {
		t.Errorf("the server's stream window is %d, want %d", streamWindow, wantStreamWindow)
	}
	if connWindow != wantConnWindow {
		t.Errorf("the server's connection window is %d, want %d", connWindow, wantConnWindow)
	}
	if pings != 0 {
		t.Errorf("the server sent %d PINGs during a call, want none", pings)
	}
}

// TestClientWindows dials a listener that reads what the client sends:
// its SETTINGS give the stream window, and a WINDOW_UPDATE brings the
// connection's to its size.
func TestClientWindows(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go recommendationspb.NewRecommendationsClient(conn).Recommend(ctx, &recommendationspb.RecommendationRequest{}) //nolint:errcheck // it only opens the connection

	c, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a plain TCP connection
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var streamWindow uint32
	connWindow := uint32(65535)
	for streamWindow == 0 || connWindow == 65535 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read the client's frames (stream window %d, connection window %d so far): %v", streamWindow, connWindow, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok && !f.IsAck() {
				streamWindow = v
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connWindow += f.Increment
			}
		}
	}
	if streamWindow != wantStreamWindow {
		t.Errorf("the client's stream window is %d, want %d", streamWindow, wantStreamWindow)
	}
	if connWindow != wantConnWindow {
		t.Errorf("the client's connection window is %d, want %d", connWindow, wantConnWindow)
	}
}
