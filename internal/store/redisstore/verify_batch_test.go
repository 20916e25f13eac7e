package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/redisstore"
	"github.com/callverify/callverify/verify"
)

// batchFixture is a store with lines, customers and the calls each
// customer was stamped, to check that a read gets its own customer's calls
// and its own line's record when many reads share a pipeline.
type batchFixture struct {
	vs        *redisstore.VerifyStore
	now       time.Time
	lines     []phone.Number            // registered: lines[i] places calls
	customers []phone.Number            // customers[i] has calls from lines[i%len(lines)]
	calls     map[phone.Number][]string // customer -> its call ids, sorted
	gens      map[phone.Number]string   // line -> its record's gen
}

func newBatchFixture(t testing.TB, rdb redis.UniversalClient, nLines, nCustomers int) *batchFixture {
	t.Helper()
	ctx := context.Background()
	vs, _, o := newStores(t, rdb)
	f := &batchFixture{vs: vs, now: time.Now(), calls: map[phone.Number][]string{}, gens: map[phone.Number]string{}}
	for i := range nLines {
		n := phone.Number(fmt.Sprintf("+86571888800%02d", i))
		if err := o.AddOfficial(ctx, n, true); err != nil {
			t.Fatal(err)
		}
		gen, err := rdb.HGet(ctx, o.key(n), "gen").Result()
		if err != nil {
			t.Fatal(err)
		}
		f.lines, f.gens[n] = append(f.lines, n), gen
	}
	for i := range nCustomers {
		callee := phone.Number(fmt.Sprintf("+861380013%04d", i))
		f.customers = append(f.customers, callee)
		for j := range 1 + i%3 { // one to three calls each
			c := verify.Call{
				ID: vs.NewCallID(callee), Caller: f.lines[i%nLines], Callee: callee, CustomerID: fmt.Sprintf("cust-%d", i),
				Reason: verify.ReasonRefund, AgentID: "a-7", AgentName: "Wang", CreateBy: "dialer-1", State: verify.StateActive,
				CreateTime: f.now, ExpireTime: f.now.Add(time.Duration(10+j) * time.Minute),
			}
			if err := vs.CreateCall(ctx, c, audit.Event{Time: f.now, Actor: "dialer-1", Role: "dialer", Action: "call.stamp", Target: c.ID}); err != nil {
				t.Fatal(err)
			}
			f.calls[callee] = append(f.calls[callee], c.ID)
		}
		slices.Sort(f.calls[callee])
	}
	return f
}

// check says what is wrong with a read of customer's calls and line's
// record, or "" when it is right.
func (f *batchFixture) check(customer, line phone.Number, calls []verify.Call, got verify.CallerLine) string {
	var ids []string
	for _, c := range calls {
		if c.Callee != customer {
			return fmt.Sprintf("a call to %s in the calls of %s", c.Callee, customer)
		}
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, f.calls[customer]) {
		return fmt.Sprintf("calls of %s: %v, want %v", customer, ids, f.calls[customer])
	}
	if want := (verify.CallerLine{Registered: true, PlacesCalls: true, Gen: f.gens[line]}); got != want {
		return fmt.Sprintf("record of %s: %+v, want %+v", line, got, want)
	}
	return ""
}

// pipelineHook counts the reads each pipeline starts (a read of the
// callee's index: its calls follow in a later pipeline) and, while hold is
// set, stops each pipeline that starts reads until release says go.
type pipelineHook struct {
	most    atomic.Int64 // the most reads one pipeline started
	hold    atomic.Bool
	held    chan int // the reads a held pipeline starts
	release chan struct{}
}

func newPipelineHook() *pipelineHook {
	return &pipelineHook{held: make(chan int), release: make(chan struct{})}
}

func (h *pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if c.Name() == "zrevrangebyscore" {
				n++
			}
		}
		for {
			m := h.most.Load()
			if int64(n) <= m || h.most.CompareAndSwap(m, int64(n)) {
				break
			}
		}
		if n > 0 && h.hold.Load() {
			h.held <- n
			<-h.release
		}
		return next(ctx, cmds)
	}
}

// TestConcurrentChecksShareAPipelineAndEachGetsItsOwnAnswer: many
// goroutines reading different customers' calls with different lines at
// once share pipelines, and each read gets its own customer's calls and
// its own line's record.
func TestConcurrentChecksShareAPipelineAndEachGetsItsOwnAnswer(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			rdb := b.client(t)
			hook := newPipelineHook()
			rdb.AddHook(hook)
			f := newBatchFixture(t, rdb, 5, 40)
			const goroutines, reads = 32, 40
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range reads {
						customer := f.customers[(g*7+i)%len(f.customers)]
						line := f.lines[(g+i)%len(f.lines)]
						calls, got, err := f.vs.ListCallsToWithLine(context.Background(), customer, line, f.now, 100)
						if err != nil {
							t.Errorf("ListCallsToWithLine(%s, %s): %v", customer, line, err)
							return
						}
						if msg := f.check(customer, line, calls, got); msg != "" {
							t.Errorf("ListCallsToWithLine(%s, %s): %s", customer, line, msg)
							return
						}
					}
				})
			}
			wg.Wait()
			if got := hook.most.Load(); got < 2 {
				t.Errorf("the fullest pipeline carried %d reads, want several: %d goroutines did not share one", got, goroutines)
			}
		})
	}
}

// TestACheckThatGivesUpMidBatchLeavesTheOthersTheirAnswers: a read goes
// out at once while a sender is free; reads that arrive while every sender
// has a batch in flight go out together in the next one; a read whose
// context ends while its batch is in flight returns its context's error at
// once, and the batch goes on for the others.
func TestACheckThatGivesUpMidBatchLeavesTheOthersTheirAnswers(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			rdb := b.client(t)
			hook := newPipelineHook()
			rdb.AddHook(hook)
			f := newBatchFixture(t, rdb, 3, 4)
			type result struct {
				msg string
				err error
			}
			read := func(ctx context.Context, i int) <-chan result {
				out := make(chan result, 1)
				go func() {
					calls, got, err := f.vs.ListCallsToWithLine(ctx, f.customers[i], f.lines[i%3], f.now, 100)
					if err != nil {
						out <- result{err: err}
						return
					}
					out <- result{msg: f.check(f.customers[i], f.lines[i%3], calls, got)}
				}()
				return out
			}
			answer := func(name string, ch <-chan result) {
				t.Helper()
				select {
				case r := <-ch:
					if r.err != nil || r.msg != "" {
						t.Errorf("%s: %v %s; want its own answer", name, r.err, r.msg)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: no answer", name)
				}
			}

			// Every sender busy, each with a lone read that went out at once.
			hook.hold.Store(true)
			var first []<-chan result
			for range redisstore.MaxBatchesInFlight {
				first = append(first, read(context.Background(), 0))
				if n := <-hook.held; n != 1 {
					t.Fatalf("a lone read went out in a batch of %d, want 1 (it goes out at once)", n)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			gaveUp := read(ctx, 1)
			others := []<-chan result{read(context.Background(), 2), read(context.Background(), 3)}
			for deadline := time.Now().Add(10 * time.Second); redisstore.QueuedReads(f.vs) < 3; {
				if time.Now().After(deadline) {
					t.Fatalf("%d reads queued behind the batches in flight, want 3", redisstore.QueuedReads(f.vs))
				}
				time.Sleep(time.Millisecond)
			}
			hook.release <- struct{}{} // one batch ends: its sender takes the queue
			if n := <-hook.held; n != 3 {
				t.Fatalf("the next batch carried %d reads, want the 3 that arrived meanwhile", n)
			}
			cancel()
			select {
			case r := <-gaveUp:
				if !errors.Is(r.err, context.Canceled) {
					t.Errorf("the read that gave up mid-batch: %v %s, want context.Canceled", r.err, r.msg)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the read that gave up waits for its batch")
			}
			hook.hold.Store(false)
			for range redisstore.MaxBatchesInFlight { // the other first batches and the batch of three
				hook.release <- struct{}{}
			}
			for i, ch := range first {
				answer(fmt.Sprintf("lone read %d", i), ch)
			}
			for i, ch := range others {
				answer(fmt.Sprintf("read %d of the later batch", i+2), ch)
			}
		})
	}
}

// TestRedisGoingAwayMidBatchFailsEveryCheck: Redis killed while many
// reads are in flight gives each read its right answer or an error, never
// a partial or empty answer, and every read after it an error.
func TestRedisGoingAwayMidBatchFailsEveryCheck(t *testing.T) {
	t.Parallel()
	srv := redistest.NewServer(t, redistest.Options{})
	f := newBatchFixture(t, srv.Client(t), 4, 24)
	var ok, failed atomic.Int64
	var killed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				wasKilled := killed.Load()
				customer, line := f.customers[(g*5+i)%len(f.customers)], f.lines[(g+i)%len(f.lines)]
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				calls, got, err := f.vs.ListCallsToWithLine(ctx, customer, line, f.now, 100)
				cancel()
				switch {
				case err != nil:
					failed.Add(1)
				case wasKilled:
					t.Errorf("a read after Redis was killed: %d calls, %+v, no error", len(calls), got)
					return
				default:
					if msg := f.check(customer, line, calls, got); msg != "" {
						t.Errorf("a read while Redis went away: %s; want the right answer or an error", msg)
						return
					}
					ok.Add(1)
				}
			}
		})
	}
	for deadline := time.Now().Add(30 * time.Second); ok.Load() < 200; {
		if time.Now().After(deadline) {
			t.Fatalf("%d reads answered before the kill, want 200", ok.Load())
		}
		time.Sleep(time.Millisecond)
	}
	srv.Kill(t)
	killed.Store(true)
	for deadline := time.Now().Add(30 * time.Second); failed.Load() < 50; {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() < 50 {
		t.Errorf("%d reads failed after the kill, want every read to fail (at least 50 in 30 s)", failed.Load())
	}
}
