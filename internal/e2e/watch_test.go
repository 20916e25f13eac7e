package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/redistest"
)

// Live call cards across two instances on one Redis: the events of a call
// stamped on A reach a customer watching on B within a second, over gRPC
// and over Server-Sent Events, and a stream resumed on the other instance
// gets exactly what it missed.

// watchEvents opens a watch on d over transport ("grpc" or "rest") and
// returns its events (heartbeats left out) once the stream is open, and
// the function that closes it.
func (p *pair) watchEvents(d *daemon, transport, since string) (<-chan *callverifyv1.CallEvent, func()) {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *callverifyv1.CallEvent, 100)
	done := make(chan struct{})
	closeFn := func() { cancel(); <-done }
	t.Cleanup(closeFn)
	opened := make(chan error, 1)
	keep := func(e *callverifyv1.CallEvent) {
		if e.GetType() != callverifyv1.CallEventType_CALL_EVENT_TYPE_HEARTBEAT {
			out <- e
		}
	}
	switch transport {
	case "grpc":
		stream, err := d.verify.WatchMyCalls(p.customerCtxFrom(ctx), &callverifyv1.WatchMyCallsRequest{Since: since})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(done)
			defer close(out)
			first := true
			for {
				e, err := stream.Recv()
				if first { // every stream opens with a heartbeat
					opened <- err
					first = false
				}
				if err != nil {
					return
				}
				keep(e)
			}
		}()
	case "rest":
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.httpURL+"/v1/me/calls:watch", nil)
		req.Header.Set("Authorization", "Bearer "+p.token(auth.RoleCustomer, "customer-1", customer))
		if since != "" {
			req.Header.Set("Last-Event-ID", since)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch on %s: HTTP %s", d.name, resp.Status)
		}
		go func() {
			defer close(done)
			defer close(out)
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			first := true
			for sc.Scan() {
				line, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				e := &callverifyv1.CallEvent{}
				err := protojson.Unmarshal([]byte(line), e)
				if first {
					opened <- err
					first = false
				}
				if err != nil {
					return
				}
				keep(e)
			}
		}()
	}
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("watch on %s over %s: %v", d.name, transport, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watch on %s over %s did not open", d.name, transport)
	}
	return out, closeFn
}

// customerCtxFrom is customerCtx on a context of the caller's.
func (p *pair) customerCtxFrom(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.token(auth.RoleCustomer, "customer-1", customer))
}

// next waits for the next event of type typ about call id, failing after d.
func next(t *testing.T, events <-chan *callverifyv1.CallEvent, d time.Duration, typ callverifyv1.CallEventType, id string) *callverifyv1.CallEvent {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatalf("the stream ended, waiting for %v %s", typ, id)
		}
		if e.GetType() != typ || e.GetCard().GetCall().GetCallId() != id {
			t.Fatalf("event %v %s, want %v %s", e.GetType(), e.GetCard().GetCall().GetCallId(), typ, id)
		}
		return e
	case <-time.After(d):
		t.Fatalf("no %v %s within %v", typ, id, d)
	}
	return nil
}

func TestWatchOnBSeesCallsStampedOnA(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})
	p.official(p.a)
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			onB, _ := p.watchEvents(p.b, transport, "")
			st := p.stamp(p.a)
			id := st.GetCall().GetCallId()
			card := next(t, onB, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED, id).GetCard()
			// The servers run on the real clock: a code step may end between
			// the stamp and the card, and the card then shows the next code.
			stampUntil, cardUntil := st.GetCodeExpiresAt().AsTime(), card.GetCodeExpiresAt().AsTime()
			switch got, want := card.GetConfirmationCode(), st.GetConfirmationCode(); {
			case cardUntil.Equal(stampUntil) && got != want:
				t.Errorf("card on B has code %q until %v, A's stamp said %q until the same", got, cardUntil, want)
			case !cardUntil.Equal(stampUntil) && !cardUntil.After(stampUntil):
				t.Errorf("card on B has a code until %v, before the stamp's (until %v)", cardUntil, stampUntil)
			case !cardUntil.Equal(stampUntil):
				t.Logf("a code step ended between the stamp and the card: code %q until %v, then %q until %v", want, stampUntil, got, cardUntil)
			}
			if _, err := p.a.calls.EndCall(p.dialerCtx(), &callverifyv1.EndCallRequest{CallId: id}); err != nil {
				t.Fatal(err)
			}
			next(t, onB, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_ENDED, id)
		})
	}
}

func TestWatchResumedOnTheOtherInstanceLosesNothing(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})
	p.official(p.a)
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			onB, closeB := p.watchEvents(p.b, transport, "")
			first := p.stamp(p.a)
			last := next(t, onB, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED, first.GetCall().GetCallId()).GetEventId()
			closeB()
			// Missed while reconnecting: a stamp and an end, both on A.
			missed := p.stamp(p.a)
			if _, err := p.a.calls.EndCall(p.dialerCtx(), &callverifyv1.EndCallRequest{CallId: first.GetCall().GetCallId()}); err != nil {
				t.Fatal(err)
			}
			onA, _ := p.watchEvents(p.a, transport, last)
			next(t, onA, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED, missed.GetCall().GetCallId())
			next(t, onA, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_ENDED, first.GetCall().GetCallId())
			marker := p.stamp(p.b)
			next(t, onA, time.Second, callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED, marker.GetCall().GetCallId())
			for _, id := range []string{missed.GetCall().GetCallId(), marker.GetCall().GetCallId()} {
				if _, err := p.a.calls.EndCall(p.dialerCtx(), &callverifyv1.EndCallRequest{CallId: id}); err != nil {
					t.Fatal(fmt.Errorf("end %s: %w", id, err))
				}
			}
		})
	}
}

// TestWatchCapIsSharedByTheInstances: a customer's streams count on every
// instance: with 3 open (two on A, one on B), a fourth on B is refused,
// and closing one on A makes room on B.
func TestWatchCapIsSharedByTheInstances(t *testing.T) {
	t.Parallel()
	p := newPair(t, redistest.Options{})
	_, closeA := p.watchEvents(p.a, "grpc", "")
	p.watchEvents(p.a, "rest", "")
	p.watchEvents(p.b, "grpc", "")
	fourth := func() int {
		req, _ := http.NewRequest(http.MethodGet, p.b.httpURL+"/v1/me/calls:watch", nil)
		req.Header.Set("Authorization", "Bearer "+p.token(auth.RoleCustomer, "customer-1", customer))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got, want := fourth(), http.StatusTooManyRequests; got != want {
		t.Fatalf("a fourth stream on B: HTTP %d, want %d", got, want)
	}
	closeA()
	// A gives the place back when it notices the stream is gone.
	eventually(t, 10*time.Second, "a place on B after closing one on A", func() error {
		if got := fourth(); got != http.StatusOK {
			return fmt.Errorf("HTTP %d", got)
		}
		return nil
	})
}
