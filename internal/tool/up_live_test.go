package tool_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestUpLiveStreamsOfOneCaller checks that `bookshop up`, whose one
// Marketplace is every Recommendations replica's one caller, lets one
// caller open every live stream a replica serves: with
// -recommendations-live-streams 10, a client of the Marketplace's address
// opens 10, and the 11th is refused. Before, one caller had half of them
// (-live-streams-per-caller's default, for replicas that serve several
// Marketplaces), so that the Marketplace's sessions past 3,000 of its
// 6,000 were refused (docs/capacity.md).
func TestUpLiveStreamsOfOneCaller(t *testing.T) {
	const streams = 10
	port := freePort(t)
	startUp(t, "-recommendations-port="+itoa(port), "-recommendations-live-streams="+itoa(streams))
	live := recommendationsv1.NewLiveRecommendationsServiceClient(rpctest.Dial(t, "127.0.0.1:"+itoa(port)))
	// open opens a live stream and waits for its first list.
	open := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		stream, err := live.LiveRecommend(ctx)
		if err != nil {
			return err
		}
		if err := stream.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}); err != nil {
			_, err = stream.Recv()
			return err
		}
		_, err = stream.Recv()
		return err
	}
	for i := range streams {
		if err := open(); err != nil {
			t.Fatalf("live stream %d of %d of one caller: %v", i+1, streams, err)
		}
	}
	if err := open(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("live stream %d, past the replica's %d = %v, want RESOURCE_EXHAUSTED", streams+1, streams, err)
	}
}
