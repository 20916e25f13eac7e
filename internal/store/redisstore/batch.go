package redisstore

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxBatchReads is the most reads one batch carries (each read is a few
// commands).
const maxBatchReads = 64

// maxBatchesInFlight is how many batches may be in flight at once: two, so
// that Redis works on one while the next is written, and two checks at a
// time (a quiet service) still go out at once.
const maxBatchesInFlight = 2

// readBatcher sends the reads of concurrent requests in one pipeline: a
// read that arrives while every sender has a batch in flight joins the next
// one. There is no waiting for company: a read goes out at once while a
// sender is free, and under load each batch carries what arrived during the
// ones before, so many requests share
// one write and one read on each connection (each node, on a Cluster: the
// pipeline is split by node) instead of paying one round trip each.
//
// go-redis v9's AutoPipeliner batches single commands the same way, but it
// is marked experimental and bounds a batch only softly; this is the little
// that one read of a few commands needs, with a hard bound.
type readBatcher struct {
	rdb redis.UniversalClient

	mu      sync.Mutex
	queue   []*batchedRead
	senders int // goroutines sending batches (send), at most maxBatchesInFlight
}

// batchedRead is one request's part of a batch: add queues its commands on
// the batch's pipeline (each command carries its own reply or error, for
// its request alone); done is closed once they have run, or once the batch
// left them out (queued false: the request had given up).
type batchedRead struct {
	ctx    context.Context
	add    func(ctx context.Context, p redis.Pipeliner)
	done   chan struct{}
	queued bool // set before done is closed
}

func newReadBatcher(rdb redis.UniversalClient) *readBatcher { return &readBatcher{rdb: rdb} }

// do runs the commands add queues in the next batch and waits for them. It
// returns ctx's error when ctx ends first: the batch goes on without this
// read, whose commands must then not be read (they may still be running).
func (b *readBatcher) do(ctx context.Context, add func(ctx context.Context, p redis.Pipeliner)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &batchedRead{ctx: ctx, add: add, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if b.senders < maxBatchesInFlight {
		b.senders++
		go b.send()
	}
	b.mu.Unlock()
	return r.wait()
}

// wait waits until r's commands have run (nil) or its context ends (its
// error). A read left out of its batch (its context ended before the batch
// went) has its done closed too, and then answers its context's error
// whichever of the two the select picks: nothing was read.
func (r *batchedRead) wait() error {
	select {
	case <-r.done:
		if !r.queued {
			return r.ctx.Err()
		}
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// send sends batches, one at a time, until the queue is empty.
func (b *readBatcher) send() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatchReads)
		if n == 0 {
			b.senders--
			b.queue = nil
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.run(batch)
	}
}

// run sends one batch in one pipeline. Its context is none of its
// requests': one that ends does not fail the others (the client's read and
// write timeouts bound the batch).
func (b *readBatcher) run(batch []*batchedRead) {
	ctx := context.Background()
	p := b.rdb.Pipeline()
	for _, r := range batch {
		if r.ctx.Err() == nil { // a request that gave up is left out
			r.add(ctx, p)
			r.queued = true
		}
	}
	if p.Len() > 0 {
		_, _ = p.Exec(ctx) // each command carries its own error
	}
	for _, r := range batch {
		close(r.done)
	}
}
