package redisstore

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/redistest"
)

// A read whose context ends before its batch goes is left out of the batch
// and answers its context's error, even when its done is closed by the time
// it looks (both ready: the select may pick either). It once answered nil
// half of those times, and its caller read commands never sent.
func TestAReadLeftOutOfItsBatchAnswersItsContextsError(t *testing.T) {
	t.Parallel()
	b := newReadBatcher(redistest.Standalone(t).Client(t))
	for i := range 64 {
		ctx, cancel := context.WithCancel(context.Background())
		var cmd *redis.StatusCmd
		r := &batchedRead{ctx: ctx, add: func(ctx context.Context, p redis.Pipeliner) { cmd = p.Ping(ctx) }, done: make(chan struct{})}
		cancel()
		b.run([]*batchedRead{r}) // leaves r out and closes its done
		if err := r.wait(); !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: wait = %v, want context.Canceled", i, err)
		}
		if cmd != nil {
			t.Fatalf("try %d: the batch queued the commands of a read that had given up", i)
		}
	}
}
