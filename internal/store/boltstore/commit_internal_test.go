package boltstore

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var bTest = []byte("test/commit")

func newTestCommitter(t *testing.T) (*bolt.DB, *committer) {
	t.Helper()
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bTest); return err }); err != nil {
		t.Fatal(err)
	}
	return db, newCommitter(db)
}

// queued waits until n writes wait behind the one being committed.
func queued(c *committer, n int) {
	for {
		c.mu.Lock()
		got := len(c.queue)
		c.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched() // the writers are about to take the lock
	}
}

// leading waits until a writer has taken its group to commit, leaving the
// queue empty for the writes that come next.
func leading(c *committer) {
	for {
		c.mu.Lock()
		ok := c.leading && len(c.queue) == 0
		c.mu.Unlock()
		if ok {
			return
		}
		runtime.Gosched()
	}
}

// Writes that arrive while a commit is under way share the next
// transaction: 1 + 49 writes take two transactions (and two fsyncs), not 50.
func TestConcurrentWritesShareOneTransaction(t *testing.T) {
	t.Parallel()
	db, c := newTestCommitter(t)
	const n = 50
	release := make(chan struct{})
	txOf := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	write := func(i int) {
		defer wg.Done()
		errs[i] = c.update(func(tx *bolt.Tx) error {
			if i == 0 {
				<-release // hold the first commit open while the rest queue
			}
			txOf[i] = tx.ID()
			return tx.Bucket(bTest).Put(fmt.Appendf(nil, "k%02d", i), []byte{byte(i)})
		})
	}
	wg.Add(1)
	go write(0)
	leading(c)
	for i := 1; i < n; i++ {
		wg.Add(1)
		go write(i)
	}
	queued(c, n-1)
	close(release)
	wg.Wait()

	txs := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("write %d: %v", i, errs[i])
		}
		txs[txOf[i]]++
	}
	if got, want := len(txs), 2; got != want {
		t.Fatalf("%d writes took %d transactions (%v), want %d", n, got, txs, want)
	}
	if got, want := txs[txOf[0]], 1; got != want {
		t.Errorf("the first write's transaction held %d writes, want %d", got, want)
	}
	// Acknowledged means committed: every write is in the file.
	if err := db.View(func(tx *bolt.Tx) error {
		if got, want := tx.Bucket(bTest).Stats().KeyN, n; got != want {
			return fmt.Errorf("the bucket holds %d keys, want %d", got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A write that fails in a group fails alone: the others commit, and its
// error is the one it gets run in a transaction of its own.
func TestAFailingWriteFailsOnlyItself(t *testing.T) {
	t.Parallel()
	db, c := newTestCommitter(t)
	release := make(chan struct{})
	refused := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	runs := make([]int, 4)
	var runsMu sync.Mutex
	write := func(i int, fn func(tx *bolt.Tx) error) {
		defer wg.Done()
		errs[i] = c.update(func(tx *bolt.Tx) error {
			runsMu.Lock()
			runs[i]++
			runsMu.Unlock()
			if err := tx.Bucket(bTest).Put(fmt.Appendf(nil, "k%d", i), []byte{1}); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	wg.Add(1)
	go write(0, func(*bolt.Tx) error { <-release; return nil })
	leading(c)
	for i, fn := range []func(*bolt.Tx) error{
		func(*bolt.Tx) error { return nil },
		func(*bolt.Tx) error { return refused }, // written, then refused: rolled back
		func(*bolt.Tx) error { return nil },
	} {
		wg.Add(1)
		go write(i+1, fn)
		queued(c, i+1) // queue them in this order
	}
	close(release)
	wg.Wait()

	for i, want := range []error{nil, nil, refused, nil} {
		if !errors.Is(errs[i], want) {
			t.Errorf("write %d returned %v, want %v", i, errs[i], want)
		}
	}
	// 0 ran alone; 1 ran in the group of three, rolled back by the refusal,
	// then again with 3; 2 ran in the group, then solo; 3 (after the
	// refusal in line) ran once.
	for i, want := range []int{1, 2, 2, 1} {
		if runs[i] != want {
			t.Errorf("write %d ran %d times, want %d", i, runs[i], want)
		}
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for i, want := range []bool{true, true, false, true} {
			if got := tx.Bucket(bTest).Get(fmt.Appendf(nil, "k%d", i)) != nil; got != want {
				t.Errorf("write %d is stored: %v, want %v", i, got, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A panic in a grouped write fails only that write, and reaches its own
// caller as it would from bbolt's Update.
func TestAPanicInAGroupedWriteReachesOnlyItsCaller(t *testing.T) {
	t.Parallel()
	db, c := newTestCommitter(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	var first, third error
	var panicked any
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = c.update(func(tx *bolt.Tx) error { <-release; return tx.Bucket(bTest).Put([]byte("a"), nil) })
	}()
	leading(c)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { panicked = recover() }()
		_ = c.update(func(*bolt.Tx) error { panic("boom") })
	}()
	queued(c, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		third = c.update(func(tx *bolt.Tx) error { return tx.Bucket(bTest).Put([]byte("c"), nil) })
	}()
	queued(c, 2)
	close(release)
	wg.Wait()
	if first != nil || third != nil {
		t.Fatalf("the other writes returned %v and %v, want nil", first, third)
	}
	if panicked != "boom" {
		t.Fatalf("the panicking write's caller recovered %v, want boom", panicked)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bTest).Get([]byte("c")) == nil {
			return errors.New("the write grouped after the panic is not stored")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
