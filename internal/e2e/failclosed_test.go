package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/redistest"
)

// notReadyWithin bounds how long an instance may take to say it is not
// ready once Redis is gone (gRPC health is probed every 2s), and to be
// ready again once Redis is back.
const notReadyWithin = 5 * time.Second

// answer is one request of the traffic, with when it was in flight.
type answer struct {
	d          *daemon
	start, end time.Time
	verdict    callverifyv1.Verdict
	pattern    string // writes only
	err        error
}

// traffic runs CheckCaller and CreateEntry loops on both instances until
// stopped, and keeps every answer.
type traffic struct {
	mu      sync.Mutex
	checks  []answer
	writes  []answer
	stop    chan struct{}
	wg      sync.WaitGroup
	counter atomic.Int64
}

func (p *pair) startTraffic(t *testing.T) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	for _, d := range []*daemon{p.a, p.b} {
		checkCtx, writeCtx := p.customerCtx(), p.analystCtx()
		tr.wg.Add(2)
		go func() {
			defer tr.wg.Done()
			for tr.running() {
				a := answer{d: d, start: time.Now()}
				res, err := d.verify.CheckCaller(checkCtx, &callverifyv1.CheckCallerRequest{CallerNumber: officialLine})
				a.verdict, a.err = res.GetVerdict(), err
				a.end = time.Now()
				tr.mu.Lock()
				tr.checks = append(tr.checks, a)
				tr.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		go func() {
			defer tr.wg.Done()
			for tr.running() {
				a := answer{d: d, start: time.Now(), pattern: fmt.Sprintf("+86171%08d", tr.counter.Add(1))}
				_, a.err = d.blocklist.CreateEntry(writeCtx, &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{
					Pattern: a.pattern, Category: callverifyv1.Category_CATEGORY_SPAM, Confidence: 40,
				}})
				a.end = time.Now()
				tr.mu.Lock()
				tr.writes = append(tr.writes, a)
				tr.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(tr.end)
	return tr
}

func (tr *traffic) running() bool {
	select {
	case <-tr.stop:
		return false
	default:
		return true
	}
}

// end stops the traffic and waits for it (idempotent).
func (tr *traffic) end() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.wg.Wait()
}

// within returns the answers to requests made wholly between from and to.
func within(as []answer, from, to time.Time) []answer {
	var out []answer
	for _, a := range as {
		if a.start.After(from) && a.end.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// wantUnavailable checks that err is UNAVAILABLE with a message that says so.
func wantUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	st := status.Convert(a.err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "unavailable") {
		t.Errorf("%s on %s while Redis was down: %v (verdict %v); want UNAVAILABLE saying the service is unavailable", what, a.d.name, a.err, a.verdict)
	}
}

func (d *daemon) readyz() int {
	resp, err := http.Get(d.httpURL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (d *daemon) healthStatus() healthpb.HealthCheckResponse_ServingStatus {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := d.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN
	}
	return res.GetStatus()
}

// TestRedisGoneMidTrafficFailsClosedAndRecoversByItself stops Redis under
// CheckCaller and write traffic on two instances: while it is gone, no
// instance says VERIFIED, reads and writes fail UNAVAILABLE, /readyz and gRPC
// health say not ready; once it is back, both serve again without a
// restart, and no write is half done.
func TestRedisGoneMidTrafficFailsClosedAndRecoversByItself(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		down func(t *testing.T, s *redistest.Server)
	}{
		{"stopped", func(t *testing.T, s *redistest.Server) { s.Stop(t) }},
		{"killed", func(t *testing.T, s *redistest.Server) { s.Kill(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// appendfsync always: the call survives a kill, so it must
			// verify again afterwards.
			p := newPair(t, redistest.Options{AppendOnly: true})
			p.official(p.a)
			p.stamp(p.a)
			// B knows the line once its follower has read A's create.
			eventually(t, maxPropagation, "both verify before the outage", func() error {
				for _, d := range []*daemon{p.a, p.b} {
					if v, err := p.verdict(d, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_VERIFIED {
						return fmt.Errorf("%s: verdict %v, err %v; want VERIFIED", d.name, v, err)
					}
				}
				return nil
			})
			tr := p.startTraffic(t)
			eventually(t, notReadyWithin, "traffic served on both before the outage", func() error {
				tr.mu.Lock()
				defer tr.mu.Unlock()
				served := map[*daemon]int{}
				for _, a := range append(append([]answer(nil), tr.checks...), tr.writes...) {
					if a.err == nil {
						served[a.d]++
					}
				}
				if served[p.a] < 4 || served[p.b] < 4 {
					return fmt.Errorf("requests served: A %d, B %d", served[p.a], served[p.b])
				}
				return nil
			})

			tc.down(t, p.redis)
			down := time.Now()
			for _, d := range []*daemon{p.a, p.b} {
				took := eventually(t, notReadyWithin, d.name+" not ready", func() error {
					if code := d.readyz(); code != http.StatusServiceUnavailable {
						return fmt.Errorf("/readyz %d", code)
					}
					if st := d.healthStatus(); st != healthpb.HealthCheckResponse_NOT_SERVING {
						return fmt.Errorf("gRPC health %v", st)
					}
					return nil
				})
				t.Logf("%s not ready %v after Redis went down", d.name, took)
			}
			// REST fails closed too.
			tok := p.token(auth.RoleCustomer, "customer-1", customer)
			code, body := postJSON(t, p.b.httpURL+"/v1/verify/caller", tok, `{"callerNumber":"`+officialLine+`"}`)
			if code != http.StatusServiceUnavailable || strings.Contains(body, "VERIFIED") {
				t.Errorf("REST CheckCaller while Redis is down: %d %s; want 503", code, body)
			}
			up := time.Now()
			p.redis.Start(t)

			for _, d := range []*daemon{p.a, p.b} {
				took := eventually(t, notReadyWithin, d.name+" ready again and verifying", func() error {
					if code := d.readyz(); code != http.StatusOK {
						return fmt.Errorf("/readyz %d", code)
					}
					if st := d.healthStatus(); st != healthpb.HealthCheckResponse_SERVING {
						return fmt.Errorf("gRPC health %v", st)
					}
					if v, err := p.verdict(d, officialLine); err != nil || v != callverifyv1.Verdict_VERDICT_VERIFIED {
						return fmt.Errorf("verdict %v, err %v", v, err)
					}
					return nil
				})
				t.Logf("%s ready and verifying %v after Redis came back", d.name, took)
			}
			eventually(t, notReadyWithin, "writes succeed on both again", func() error {
				tr.mu.Lock()
				defer tr.mu.Unlock()
				ok := map[*daemon]bool{}
				for _, w := range tr.writes {
					if w.err == nil && w.start.After(up) {
						ok[w.d] = true
					}
				}
				if !ok[p.a] || !ok[p.b] {
					return fmt.Errorf("no write has succeeded since Redis came back on both instances yet")
				}
				return nil
			})
			tr.end()

			outage := within(tr.checks, down, up)
			if len(outage) == 0 {
				t.Fatal("no CheckCaller ran wholly while Redis was down")
			}
			for _, a := range outage {
				wantUnavailable(t, "CheckCaller", a)
			}
			for _, a := range tr.checks {
				if a.err == nil && a.verdict != callverifyv1.Verdict_VERDICT_VERIFIED {
					t.Errorf("CheckCaller on %s at %v answered %v, want VERIFIED or an error", a.d.name, a.start.Sub(down), a.verdict)
				}
			}
			failedWrites := within(tr.writes, down, up)
			if len(failedWrites) == 0 {
				t.Fatal("no write ran wholly while Redis was down")
			}
			for _, a := range failedWrites {
				wantUnavailable(t, "CreateEntry", a)
			}
			p.wantNothingHalfWritten(t, tr.writes, down, up)
		})
	}
}

// wantNothingHalfWritten checks every write of the traffic: an entry exists
// exactly when its create event does (one), an acknowledged write left
// both, and a write made wholly while Redis was down left neither. A write
// cut off as Redis went away may have committed or not: its client cannot
// know (it was told UNAVAILABLE), but it is whole either way.
func (p *pair) wantNothingHalfWritten(t *testing.T, writes []answer, down, up time.Time) {
	t.Helper()
	outage := map[string]bool{}
	for _, w := range within(writes, down, up) {
		outage[w.pattern] = true
	}
	// B checks below; writes made on A reach B's index through its
	// follower. A marker written on A after them, once B matches it, says
	// B has applied every change before it (the log is applied in order).
	const marker = "+8617199999999"
	p.block(p.a, marker)
	eventually(t, 5*time.Second, "B has caught up with A's writes", func() error {
		if ok, err := p.blocked(p.b, marker); err != nil || !ok {
			return fmt.Errorf("marker blocked on B: %v, %v", ok, err)
		}
		return nil
	})
	events := map[string]int{}
	token := ""
	for {
		res, err := p.a.blocklist.ListAuditEvents(p.adminCtx(), &callverifyv1.ListAuditEventsRequest{Action: "entry.create", PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatalf("list audit events: %v", err)
		}
		for _, e := range res.GetEvents() {
			events[e.GetAfter().GetFields()["pattern"].GetStringValue()]++
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	for _, w := range writes {
		blocked, err := p.blocked(p.b, w.pattern)
		if err != nil {
			t.Fatalf("check %s: %v", w.pattern, err)
		}
		switch {
		case w.err == nil && (!blocked || events[w.pattern] != 1):
			t.Errorf("acknowledged create of %s: blocked %v, %d create events; want blocked and 1", w.pattern, blocked, events[w.pattern])
		case outage[w.pattern] && (blocked || events[w.pattern] != 0):
			t.Errorf("create of %s made while Redis was down left: blocked %v, %d create events", w.pattern, blocked, events[w.pattern])
		case w.err != nil && (blocked != (events[w.pattern] == 1) || events[w.pattern] > 1):
			t.Errorf("create of %s failed (%v) and is half there: blocked %v, %d create events", w.pattern, w.err, blocked, events[w.pattern])
		}
	}
}

// postJSON posts body to url with a bearer token and returns the status
// and body.
func postJSON(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
