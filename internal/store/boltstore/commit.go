package boltstore

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes one commit takes, so that a burst does
// not hold bbolt's single writer (and the blocklist's writes behind it)
// for one long transaction.
const maxGroup = 256

// committer is group commit: concurrent writes share one bbolt transaction
// and so one fsync. There is no linger: a write that finds no commit under
// way commits at once (alone, as Update would); writes that arrive while
// one is under way queue, and the next commit takes them all. So a single
// writer pays nothing, and 50 pay one fsync per round instead of 50.
//
// A write is acknowledged (its update returns nil) only after the commit
// that holds it returned, that is after bbolt's fsync: acknowledged still
// means durable.
//
// The contract is bbolt's DB.Batch: fn may run more than once (when another
// write in its group fails, the group is rolled back and run again without
// it), so fn must set every result it hands out afresh on each run and have
// no effect outside tx. A write whose fn fails fails alone: it is taken out
// of the group and run again in a transaction of its own, whose result is
// its answer, so a refusal never depends on the writes it was grouped with.
type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*groupWrite
	leading bool // a writer is committing a group
}

type groupWrite struct {
	fn func(*bolt.Tx) error
	// done receives once: either lead (take the queue and commit it) or
	// the write's result. Buffered, so that the committer never blocks.
	done chan groupResult
}

type groupResult struct {
	lead bool
	solo bool // fn failed in a group: run it in a transaction of its own
	err  error
}

func newCommitter(db *bolt.DB) *committer { return &committer{db: db} }

// update runs fn in a read-write transaction, grouped with concurrent
// writes, and returns once that transaction is committed (or fn's error).
func (c *committer) update(fn func(*bolt.Tx) error) error {
	w := &groupWrite{fn: fn, done: make(chan groupResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	if c.leading {
		c.mu.Unlock()
		r := <-w.done
		if !r.lead {
			return c.result(w, r)
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	// This writer leads: commit what has queued (its own write first in
	// line), then hand the lead to the next queued writer, if any. Each
	// leader commits one group and returns, so no caller serves others
	// for long.
	c.mu.Lock()
	n := min(len(c.queue), maxGroup)
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	c.commit(group)

	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- groupResult{lead: true}
	} else {
		c.leading = false
		c.queue = nil // let the old backing array go
	}
	c.mu.Unlock()
	return c.result(w, <-w.done)
}

func (c *committer) result(w *groupWrite, r groupResult) error {
	if r.solo {
		return c.db.Update(w.fn)
	}
	return r.err
}

// commit runs group in one transaction. A write whose fn fails is taken
// out (told to run solo) and the rest run again from a clean transaction.
func (c *committer) commit(group []*groupWrite) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			// Committed (or the commit itself failed, for all of them).
			for _, w := range group {
				w.done <- groupResult{err: err}
			}
			return
		}
		group[failed].done <- groupResult{solo: true}
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// safely runs fn, turning a panic into an error so that it fails only its
// own write; run solo, the panic then reaches its own caller.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a grouped write: %v", p)
		}
	}()
	return fn(tx)
}
