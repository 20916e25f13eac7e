package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/redistest"
)

// TestAcknowledgedWritesSurviveRedisKill9 runs Redis with appendonly yes
// and appendfsync always (docs/redis.md, Durability), writes through both
// instances, and kills Redis with SIGKILL while writes are in flight: after
// it starts again every write an instance acknowledged is there, entries,
// official number, call and their audit events, and both instances serve
// it without a restart.
func TestAcknowledgedWritesSurviveRedisKill9(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{AppendOnly: true, AppendFsync: "always"})
	p.official(p.a)
	stamped := p.stamp(p.b)
	callID := stamped.GetCall().GetCallId()
	deleted := p.block(p.a, "+8617200000000")
	if _, err := p.b.blocklist.DeleteEntry(p.analystCtx(), &callverifyv1.DeleteEntryRequest{EntryId: deleted}); err != nil {
		t.Fatalf("delete an entry: %v", err)
	}

	// Writers on both instances until Redis is killed; acked keeps the
	// entries whose create was acknowledged.
	var (
		mu    sync.Mutex
		acked = map[string]string{} // pattern -> entry id
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		count = make(chan struct{}, 1000)
		// refused counts the writes that failed UNAVAILABLE.
		refused atomic.Int64
	)
	for w := range 4 {
		d := []*daemon{p.a, p.b}[w%2]
		ctx := p.analystCtx()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pattern := fmt.Sprintf("+86172%d%07d", w+1, i)
				e, err := d.blocklist.CreateEntry(ctx, &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
					Pattern: pattern, Category: callverifyv1.Category_CATEGORY_ROBOCALL, Confidence: 70,
				}})
				if err != nil {
					if status.Code(err) != codes.Unavailable {
						t.Errorf("create %s on %s: %v; want it to succeed or fail UNAVAILABLE", pattern, d.name, err)
					}
					refused.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked[pattern] = e.GetEntryId()
				mu.Unlock()
				select {
				case count <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 40 { // enough acknowledged writes, then kill mid-stream
		<-count
	}
	p.redis.Kill(t)
	refusedBefore := refused.Load()
	eventually(t, notReadyWithin, "writers meet the dead Redis", func() error {
		if refused.Load() == refusedBefore {
			return fmt.Errorf("no write refused since the kill")
		}
		return nil
	})
	close(stop)
	wg.Wait()
	p.redis.Start(t)

	for _, d := range []*daemon{p.a, p.b} {
		eventually(t, notReadyWithin, d.name+" ready after Redis came back", d.ready)
	}
	t.Logf("%d entries acknowledged before the kill", len(acked))
	for pattern, id := range acked {
		e, err := p.a.blocklist.GetEntry(p.analystCtx(), &callverifyv1.GetEntryRequest{EntryId: id})
		if err != nil || e.GetPattern() != pattern {
			t.Errorf("acknowledged entry %s (%s) after the kill: %v, %v", id, pattern, e, err)
		}
	}
	for pattern := range acked {
		p.wantBlocked(pattern, true, time.Second)
	}
	if _, err := p.a.blocklist.GetEntry(p.analystCtx(), &callverifyv1.GetEntryRequest{EntryId: deleted}); status.Code(err) != codes.NotFound {
		t.Errorf("the deleted entry after the kill: %v; want NOT_FOUND", err)
	}
	call, err := p.a.calls.GetCall(p.dialerCtx(), &callverifyv1.GetCallRequest{CallId: callID})
	if err != nil || call.GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE {
		t.Errorf("the stamped call after the kill: %v, %v; want it ACTIVE", call, err)
	}
	for _, d := range []*daemon{p.a, p.b} {
		if v, err := p.verdict(d, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_VERIFIED {
			t.Errorf("%s after the kill: verdict %v, err %v; want VERIFIED", d.name, v, err)
		}
	}

	events := p.auditEvents()
	want := []struct{ action, target string }{
		{"official_number.create", officialLine},
		{"call.stamp", callID},
		{"entry.create", deleted},
		{"entry.delete", deleted},
	}
	for _, id := range acked {
		want = append(want, struct{ action, target string }{"entry.create", id})
	}
	for _, w := range want {
		if events[w] != 1 {
			t.Errorf("%d %s events on %s after the kill, want 1", events[w], w.action, w.target)
		}
	}
}

// auditEvents counts every audit event by action and target.
func (p *pair) auditEvents() map[struct{ action, target string }]int {
	p.t.Helper()
	out := map[struct{ action, target string }]int{}
	token := ""
	for {
		res, err := p.a.blocklist.ListAuditEvents(p.adminCtx(), &callverifyv1.ListAuditEventsRequest{PageSize: 100, PageToken: token})
		if err != nil {
			p.t.Fatalf("list audit events: %v", err)
		}
		for _, e := range res.GetEvents() {
			out[struct{ action, target string }{e.GetAction(), e.GetTarget()}]++
		}
		if token = res.GetNextPageToken(); token == "" {
			return out
		}
	}
}
