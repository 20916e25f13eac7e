package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/testenv"
)

// The live call cards (WatchMyCalls), over gRPC and over REST as
// Server-Sent Events. Every wait is on the stream with a deadline; expiry
// moves the service's clock (the stream looks at it on every heartbeat,
// 50ms here).

const (
	// cardDeadline is the promise: a stamped call's card within a second.
	cardDeadline = time.Second
	// eventDeadline bounds the wait for any other event.
	eventDeadline = 5 * time.Second
	watchBeat     = 50 * time.Millisecond
)

func watchEnv(t *testing.T) *testenv.Env {
	env := testenv.New(t, func(c *app.Config) { c.WatchHeartbeat = watchBeat })
	officialNumbers(t, env)
	return env
}

// watchStream is one open watch: its events (heartbeats included) arrive
// on events; err says why it ended.
type watchStream struct {
	events chan *callverifyv1.CallEvent
	cancel func()
	done   chan struct{}
	err    error
}

// openWatch opens a watch for customer over transport ("grpc" or "rest"),
// resuming after since when not "". It fails the test when the stream
// does not open.
func openWatch(t *testing.T, env *testenv.Env, transport, customer, since string) *watchStream {
	t.Helper()
	w, err := tryWatch(t, env, transport, customer, since)
	if err != nil {
		t.Fatalf("open the watch over %s: %v", transport, err)
	}
	return w
}

// tryWatch opens a watch and returns the error that refused it, as a gRPC
// status (REST's HTTP status mapped back).
func tryWatch(t *testing.T, env *testenv.Env, transport, customer, since string) (*watchStream, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchStream{events: make(chan *callverifyv1.CallEvent, 100), cancel: cancel, done: make(chan struct{})}
	t.Cleanup(func() { cancel(); <-w.done })
	tok := env.Customer(customer)
	switch transport {
	case "grpc":
		c := callverifyv1.NewVerifyServiceClient(env.Conn)
		sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		stream, err := c.WatchMyCalls(sctx, &callverifyv1.WatchMyCallsRequest{Since: since})
		if err == nil {
			// Every stream opens with a HEARTBEAT; a refused one ends
			// with its status instead.
			var e *callverifyv1.CallEvent
			if e, err = stream.Recv(); err == nil && e.GetType() != callverifyv1.CallEventType_CALL_EVENT_TYPE_HEARTBEAT {
				t.Fatalf("the first event %v, want a HEARTBEAT", e)
			}
		}
		if err != nil {
			close(w.done)
			return nil, err
		}
		go func() {
			defer close(w.done)
			for {
				e, err := stream.Recv()
				if err != nil {
					w.err = err
					close(w.events)
					return
				}
				w.events <- e
			}
		}()
		return w, nil
	case "rest":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.HTTPURL+"/v1/me/calls:watch", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if since != "" {
			req.Header.Set("Last-Event-ID", since)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(w.done)
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			close(w.done)
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatalf("HTTP %d with a body that is not a status: %v", resp.StatusCode, err)
			}
			return nil, status.Errorf(codes.Code(st.Code), "HTTP %d: %s", resp.StatusCode, st.Message)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q, want text/event-stream", ct)
		}
		go func() {
			defer close(w.done)
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var id, data, kind string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id: "):
					id = strings.TrimPrefix(line, "id: ")
				case strings.HasPrefix(line, "event: "):
					kind = strings.TrimPrefix(line, "event: ")
				case strings.HasPrefix(line, "data: "):
					data = strings.TrimPrefix(line, "data: ")
				case line == "":
					if kind == "error" {
						w.err = fmt.Errorf("error event: %s", data)
						close(w.events)
						return
					}
					e := &callverifyv1.CallEvent{}
					if err := protojson.Unmarshal([]byte(data), e); err != nil {
						w.err = fmt.Errorf("data %q: %v", data, err)
						close(w.events)
						return
					}
					if e.GetEventId() != id {
						w.err = fmt.Errorf("SSE id %q but event_id %q", id, e.GetEventId())
						close(w.events)
						return
					}
					w.events <- e
					id, data, kind = "", "", ""
				}
			}
			w.err = sc.Err()
			close(w.events)
		}()
		return w, nil
	}
	t.Fatalf("unknown transport %q", transport)
	return nil, nil
}

// next returns the next event that is not a heartbeat, within d.
func (w *watchStream) next(t *testing.T, d time.Duration) *callverifyv1.CallEvent {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				t.Fatalf("the stream ended: %v", w.err)
			}
			if e.GetType() == callverifyv1.CallEventType_CALL_EVENT_TYPE_HEARTBEAT {
				if e.GetEventId() != "" || e.GetCard() != nil {
					t.Fatalf("a heartbeat with an id or a card: %v", e)
				}
				continue
			}
			return e
		case <-deadline:
			t.Fatalf("no event within %v", d)
		}
	}
}

// want returns the next event and checks its type and call.
func (w *watchStream) want(t *testing.T, d time.Duration, typ callverifyv1.CallEventType, callID string) *callverifyv1.CallEvent {
	t.Helper()
	e := w.next(t, d)
	if e.GetType() != typ || e.GetCard().GetCall().GetCallId() != callID {
		t.Fatalf("event %v %s, want %v %s (%v)", e.GetType(), e.GetCard().GetCall().GetCallId(), typ, callID, e)
	}
	if e.GetEventId() == "" {
		t.Fatalf("%v event without an event_id", typ)
	}
	return e
}

// close ends the stream and waits until its reader is done.
func (w *watchStream) close() {
	w.cancel()
	<-w.done
}

const (
	evStamped   = callverifyv1.CallEventType_CALL_EVENT_TYPE_STAMPED
	evConfirmed = callverifyv1.CallEventType_CALL_EVENT_TYPE_CONFIRMED
	evLocked    = callverifyv1.CallEventType_CALL_EVENT_TYPE_LOCKED
	evEnded     = callverifyv1.CallEventType_CALL_EVENT_TYPE_ENDED
	evExpired   = callverifyv1.CallEventType_CALL_EVENT_TYPE_EXPIRED
	evReset     = callverifyv1.CallEventType_CALL_EVENT_TYPE_RESET
)

func TestWatchMyCallsOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			c := newClients(env)
			alice := env.Ctx(env.Customer(apiAlice))

			t.Run("a stamped call's card arrives within a second, with the agent's code", func(t *testing.T) {
				w := openWatch(t, env, transport, apiAlice, "")
				defer w.close()
				st := stampGRPC(t, env, c, apiAlice, 0)
				e := w.want(t, cardDeadline, evStamped, st.GetCall().GetCallId())
				card := e.GetCard()
				if card.GetCall().GetAgentName() != "李四" || card.GetCall().GetReasonText() != "售后回访" ||
					card.GetCall().GetCallerNumber() != apiOutbound || card.GetCall().GetExpireTime() == nil {
					t.Fatalf("card %v, want the stamped call's caller, agent, reason and expiry", card)
				}
				if got, want := card.GetConfirmationCode(), st.GetConfirmationCode(); got != want || card.GetCodeExpiresAt() == nil {
					t.Fatalf("card code %q (until %v), want the agent's %q", got, card.GetCodeExpiresAt(), want)
				}
				// The card is the one ListMyCalls shows.
				list, err := c.verify.ListMyCalls(alice, &callverifyv1.ListMyCallsRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var listed *callverifyv1.MyCall
				for _, m := range list.GetCalls() {
					if m.GetCall().GetCallId() == st.GetCall().GetCallId() {
						listed = m
					}
				}
				if listed == nil || !protoEqual(listed, card) {
					t.Fatalf("card %v, ListMyCalls shows %v", card, listed)
				}
				if _, err := c.calls.EndCall(env.Ctx(env.Dialer()), &callverifyv1.EndCallRequest{CallId: st.GetCall().GetCallId()}); err != nil {
					t.Fatal(err)
				}
				e = w.want(t, eventDeadline, evEnded, st.GetCall().GetCallId())
				if e.GetCard().GetCall().GetState() != callverifyv1.CallState_CALL_STATE_ENDED || e.GetCard().GetConfirmationCode() != "" ||
					e.GetCard().GetCall().GetAgentName() != "" {
					t.Fatalf("ENDED card %v, want the call id and state ENDED only", e.GetCard())
				}
			})

			t.Run("a live call is the first card of a new stream", func(t *testing.T) {
				st := stampGRPC(t, env, c, apiAlice, 0)
				defer endCall(t, env, c, st)
				w := openWatch(t, env, transport, apiAlice, "")
				defer w.close()
				w.want(t, cardDeadline, evStamped, st.GetCall().GetCallId())
			})

			t.Run("confirming the code and locking the call are told", func(t *testing.T) {
				w := openWatch(t, env, transport, apiAlice, "")
				defer w.close()
				st := stampGRPC(t, env, c, apiAlice, 0)
				id := st.GetCall().GetCallId()
				w.want(t, cardDeadline, evStamped, id)
				res, err := c.verify.ConfirmCode(alice, &callverifyv1.ConfirmCodeRequest{CallId: id, Code: st.GetConfirmationCode()})
				if err != nil || !res.GetMatch() {
					t.Fatalf("ConfirmCode = %v, %v; want a match", res, err)
				}
				e := w.want(t, eventDeadline, evConfirmed, id)
				if e.GetCard().GetConfirmationCode() == "" || e.GetCard().GetCall().GetState() != callverifyv1.CallState_CALL_STATE_ACTIVE {
					t.Fatalf("CONFIRMED card %v, want the active card with its code", e.GetCard())
				}
				for range 5 {
					if _, err := c.verify.ConfirmCode(alice, &callverifyv1.ConfirmCodeRequest{CallId: id, Code: wrongCode(st.GetConfirmationCode())}); err != nil {
						t.Fatal(err)
					}
				}
				e = w.want(t, eventDeadline, evLocked, id)
				if e.GetCard().GetCall().GetState() != callverifyv1.CallState_CALL_STATE_LOCKED || e.GetCard().GetConfirmationCode() != "" {
					t.Fatalf("LOCKED card %v, want state LOCKED and no code", e.GetCard())
				}
			})

			t.Run("a card whose time runs out is taken down as EXPIRED", func(t *testing.T) {
				w := openWatch(t, env, transport, apiAlice, "")
				defer w.close()
				st := stampGRPC(t, env, c, apiAlice, 60)
				id := st.GetCall().GetCallId()
				w.want(t, cardDeadline, evStamped, id)
				env.Clock.Advance(61 * time.Second)
				e := w.want(t, eventDeadline, evExpired, id)
				if e.GetCard().GetCall().GetState() != callverifyv1.CallState_CALL_STATE_EXPIRED {
					t.Fatalf("EXPIRED card %v, want state EXPIRED", e.GetCard())
				}
			})
		})
	}
}

func TestWatchShowsNobodyElsesCalls(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			c := newClients(env)
			bob := openWatch(t, env, transport, apiBob, "")
			defer bob.close()
			a := stampGRPC(t, env, c, apiAlice, 0)
			endCall(t, env, c, a)
			// The first event bob sees is his own call's.
			b := stampGRPC(t, env, c, apiBob, 0)
			bob.want(t, cardDeadline, evStamped, b.GetCall().GetCallId())
		})
	}
}

func TestWatchResumesWithoutLoss(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			c := newClients(env)
			w := openWatch(t, env, transport, apiAlice, "")
			first := stampGRPC(t, env, c, apiAlice, 0)
			last := w.want(t, cardDeadline, evStamped, first.GetCall().GetCallId()).GetEventId()
			soon := stampGRPC(t, env, c, apiAlice, 60)
			w.want(t, cardDeadline, evStamped, soon.GetCall().GetCallId())
			w.close()

			// Missed while away: a stamp, an end, and an expiry (which
			// writes nothing).
			missed := stampGRPC(t, env, c, apiAlice, 0)
			endCall(t, env, c, first)
			env.Clock.Advance(61 * time.Second)

			w = openWatch(t, env, transport, apiAlice, last)
			defer w.close()
			// soon's STAMPED is after last too, but soon has expired: its
			// card is not sent again, only taken down.
			w.want(t, eventDeadline, evStamped, missed.GetCall().GetCallId())
			w.want(t, eventDeadline, evEnded, first.GetCall().GetCallId())
			w.want(t, eventDeadline, evExpired, soon.GetCall().GetCallId())
			// And nothing else: the next event is a new call's.
			marker := stampGRPC(t, env, c, apiAlice, 0)
			w.want(t, cardDeadline, evStamped, marker.GetCall().GetCallId())
		})
	}
}

func TestWatchStartsWithTheLiveCardsOldestFirst(t *testing.T) {
	t.Parallel()
	env := watchEnv(t)
	c := newClients(env)
	// Stamped in this order, with lifetimes that make the order of their
	// expiry another: the cards still come in the order of the stamps.
	var want []string
	for _, ttl := range []int32{600, 60, 300} {
		want = append(want, stampGRPC(t, env, c, apiAlice, ttl).GetCall().GetCallId())
		env.Clock.Advance(2 * time.Second)
	}
	for _, transport := range []string{"grpc", "rest"} {
		w := openWatch(t, env, transport, apiAlice, "")
		for _, id := range want {
			w.want(t, eventDeadline, evStamped, id)
		}
		w.close()
	}
}

func TestWatchFromAnUnknownPositionResets(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			c := newClients(env)
			st := stampGRPC(t, env, c, apiAlice, 0)
			w := openWatch(t, env, transport, apiAlice, "no-such-position")
			defer w.close()
			if e := w.next(t, eventDeadline); e.GetType() != evReset || e.GetCard() != nil {
				t.Fatalf("first event %v, want RESET without a card", e)
			}
			w.want(t, cardDeadline, evStamped, st.GetCall().GetCallId())
		})
	}
}

func TestWatchStreamsPerCustomerAreCapped(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			var open []*watchStream
			for range 3 {
				open = append(open, openWatch(t, env, transport, apiAlice, ""))
			}
			_, err := tryWatch(t, env, transport, apiAlice, "")
			if got, want := status.Code(err), codes.ResourceExhausted; got != want {
				t.Fatalf("a fourth stream: %v (%v), want %v", got, err, want)
			}
			if m := env.Do("GET", "/metrics", "", nil); !strings.Contains(string(m.Body), "callverify_watch_streams 3") {
				t.Errorf("/metrics does not count the 3 open streams")
			}
			// Somebody else is not held to alice's cap.
			openWatch(t, env, transport, apiBob, "").close()
			// Closing one frees its place once the server has noticed the
			// close, which it does on its own goroutine: ask until it has.
			open[0].close()
			deadline := time.Now().Add(eventDeadline)
			for {
				w, err := tryWatch(t, env, transport, apiAlice, "")
				if err == nil {
					w.close()
					break
				}
				if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
					t.Fatalf("after closing one: %v", err)
				}
				time.Sleep(watchBeat)
			}
		})
	}
}

func TestWatchRefusesOtherRoles(t *testing.T) {
	t.Parallel()
	env := watchEnv(t)
	req, _ := http.NewRequest(http.MethodGet, env.HTTPURL+"/v1/me/calls:watch", nil)
	req.Header.Set("Authorization", "Bearer "+env.Dialer())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusForbidden; got != want {
		t.Fatalf("a dialer's watch over REST: HTTP %d, want %d", got, want)
	}
	req.Header.Del("Authorization")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
		t.Fatalf("a watch without a token over REST: HTTP %d, want %d", got, want)
	}
	stream, err := callverifyv1.NewVerifyServiceClient(env.Conn).WatchMyCalls(env.Ctx(env.Dialer()), &callverifyv1.WatchMyCallsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if got, want := status.Code(err), codes.PermissionDenied; got != want {
		t.Fatalf("a dialer's watch over gRPC: %v, want %v", got, want)
	}
}

func endCall(t *testing.T, env *testenv.Env, c clients, st *callverifyv1.StampCallResponse) {
	t.Helper()
	if _, err := c.calls.EndCall(env.Ctx(env.Dialer()), &callverifyv1.EndCallRequest{CallId: st.GetCall().GetCallId()}); err != nil {
		t.Fatal(err)
	}
}

// wrongCode is a code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func protoEqual(a, b *callverifyv1.MyCall) bool { return proto.Equal(a, b) }

// TestWatchHeartbeatsKeepAnIdleStreamOpen: a REST watch with nothing to
// say outlives the stream idle limit, because its heartbeats move bytes.
func TestWatchHeartbeatsKeepAnIdleStreamOpen(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *app.Config) {
		c.Edge.StreamIdleTimeout = 500 * time.Millisecond
		c.WatchHeartbeat = 100 * time.Millisecond
	})
	officialNumbers(t, env)
	w := openWatch(t, env, "rest", apiAlice, "")
	defer w.close()
	// Heartbeats for three idle limits' time: the stream is still open.
	until := time.After(1500 * time.Millisecond)
	for beats := 0; ; {
		select {
		case e, ok := <-w.events:
			if !ok {
				t.Fatalf("the idle stream was cut after %d heartbeats: %v", beats, w.err)
			}
			if e.GetType() == callverifyv1.CallEventType_CALL_EVENT_TYPE_HEARTBEAT {
				beats++
			}
			continue
		case <-until:
		}
		break
	}
	st := stampGRPC(t, env, newClients(env), apiAlice, 0)
	w.want(t, cardDeadline, evStamped, st.GetCall().GetCallId())
}

// TestWatchNeverShowsACardTheListWouldNot: a stream resumed from before a
// call was stamped, after the call's official line was deleted, is told
// the call ENDED but never gets its card (ListMyCalls does not show it).
func TestWatchNeverShowsACardTheListWouldNot(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			env := watchEnv(t)
			c := newClients(env)
			w := openWatch(t, env, transport, apiAlice, "")
			before := stampGRPC(t, env, c, apiAlice, 0)
			last := w.want(t, cardDeadline, evStamped, before.GetCall().GetCallId()).GetEventId()
			w.close()
			endCall(t, env, c, before)

			st := stampGRPC(t, env, c, apiAlice, 0)
			if resp := env.Do("DELETE", "/v1/official-numbers/%2B8657188881234", env.Admin(), nil); resp.Status != http.StatusOK {
				t.Fatalf("delete the official line: %d %s", resp.Status, resp.Body)
			}
			w = openWatch(t, env, transport, apiAlice, last)
			defer w.close()
			w.want(t, eventDeadline, evEnded, before.GetCall().GetCallId())
			e := w.want(t, eventDeadline, evEnded, st.GetCall().GetCallId())
			if e.GetCard().GetConfirmationCode() != "" || e.GetCard().GetCall().GetCallerNumber() != "" {
				t.Fatalf("the take-down of a call the list does not show carries %v", e.GetCard())
			}
			// Nothing else came: the next event is a new line's call.
			if resp := env.Do("POST", "/v1/official-numbers", env.Admin(), map[string]any{
				"number": apiOutbound, "displayName": "示例平台客服", "direction": "DIRECTION_OUTBOUND",
			}); resp.Status != http.StatusOK {
				t.Fatalf("register the line again: %d %s", resp.Status, resp.Body)
			}
			marker := stampGRPC(t, env, c, apiAlice, 0)
			w.want(t, cardDeadline, evStamped, marker.GetCall().GetCallId())
		})
	}
}

// TestDeletingTheLineTakesItsCardsDownAtOnce: the calls a deleted official
// line ends are taken down on a live stream within a second.
func TestDeletingTheLineTakesItsCardsDownAtOnce(t *testing.T) {
	t.Parallel()
	// Heartbeats (which also read the events) far apart: only the wake-up
	// of the deletion's own step can bring the event within the second.
	env := testenv.New(t, func(c *app.Config) { c.WatchHeartbeat = 30 * time.Second })
	officialNumbers(t, env)
	c := newClients(env)
	w := openWatch(t, env, "grpc", apiAlice, "")
	defer w.close()
	st := stampGRPC(t, env, c, apiAlice, 0)
	w.want(t, cardDeadline, evStamped, st.GetCall().GetCallId())
	if resp := env.Do("DELETE", "/v1/official-numbers/%2B8657188881234", env.Admin(), nil); resp.Status != http.StatusOK {
		t.Fatalf("delete the official line: %d %s", resp.Status, resp.Body)
	}
	w.want(t, time.Second, evEnded, st.GetCall().GetCallId())
}
