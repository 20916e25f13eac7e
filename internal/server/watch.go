package server

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/streamcap"
	"github.com/callverify/callverify/verify"
)

// WatchMyCalls over gRPC and, at watchPath, over REST as Server-Sent
// Events. Both run the same watch (verifyServer.watch) after the same
// authentication and role check; the REST handler does not go through the
// gateway, whose streaming output is newline-delimited JSON, nor through
// the in-process gRPC connection, whose one HTTP/2 connection would cap the
// REST watchers of an instance at its stream limit.

const watchMethod = "/callverify.v1.VerifyService/WatchMyCalls"

// Defaults of the watch settings.
const (
	DefaultWatchHeartbeat   = verify.DefaultHeartbeat
	DefaultWatchPerCustomer = 3
)

// watchCap caps the open watch streams of each customer (on this
// instance, or on every instance sharing the cap) and counts this
// instance's.
type watchCap struct {
	cap     streamcap.Cap
	streams prometheus.Gauge
}

func newWatchCap(c streamcap.Cap, reg prometheus.Registerer) *watchCap {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "callverify_watch_streams",
		Help: "Open WatchMyCalls streams on this instance (gRPC and REST).",
	})
	reg.MustRegister(g)
	return &watchCap{cap: c, streams: g}
}

var errTooManyWatches = fault.New(fault.ErrResourceExhausted,
	"you have the most live call streams open that are allowed; close one and try again")

// acquire takes one of the customer's places, or says they have them all.
func (w *watchCap) acquire(ctx context.Context, n phone.Number) (streamcap.Lease, error) {
	l, err := w.cap.Acquire(ctx, n.String())
	if errors.Is(err, streamcap.ErrFull) {
		return nil, errTooManyWatches
	}
	if err != nil {
		return nil, err
	}
	w.streams.Inc()
	return l, nil
}

// WatchMyCalls implements the gRPC server stream.
func (v *verifyServer) WatchMyCalls(req *callverifyv1.WatchMyCallsRequest, stream grpc.ServerStreamingServer[callverifyv1.CallEvent]) error {
	return v.watch(stream.Context(), req,
		func() error { return stream.SendHeader(nil) },
		stream.Send)
}

// watch runs one watch for the customer of ctx's token: opened (once the
// stream is granted) and then send for every event, until the client goes,
// the server drains, or a send fails.
func (v *verifyServer) watch(ctx context.Context, req *callverifyv1.WatchMyCallsRequest, opened func() error, send func(*callverifyv1.CallEvent) error) error {
	me, err := v.customerNumber(ctx)
	if err != nil {
		return err
	}
	lease, err := v.watchers.acquire(ctx, me)
	if err != nil {
		return err
	}
	defer func() {
		v.watchers.streams.Dec()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = lease.Release(rctx) // a shared place not given back lapses by itself
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-v.draining: // the client resumes elsewhere with its last event id
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := opened(); err != nil {
		return err
	}
	err = v.d.Verify.WatchMyCalls(ctx, me, verify.WatchOptions{Since: req.GetSince(), Heartbeat: v.heartbeat, Language: req.GetLanguage()},
		func(e verify.WatchEvent) error {
			if e.Type == verify.EventHeartbeat {
				// The place is held while the stream beats; a failed
				// renewal only risks the place lapsing early.
				_ = lease.Renew(ctx)
			}
			return send(callEventToProto(e))
		})
	if ctx.Err() != nil && drained(v.draining) {
		return nil // drained: the stream ends cleanly
	}
	return err
}

// drained reports whether the server is draining.
func drained(draining <-chan struct{}) bool {
	select {
	case <-draining:
		return true
	default:
		return false
	}
}

// callEventToProto is the API's form of a watch event. A card is made by
// myCallToProto, the one ListMyCalls uses.
func callEventToProto(e verify.WatchEvent) *callverifyv1.CallEvent {
	out := &callverifyv1.CallEvent{
		EventId:   e.ID,
		Type:      callverifyv1.CallEventType(e.Type),
		EventTime: timestamppb.New(e.Time),
	}
	if e.Card != nil {
		out.Card = myCallToProto(*e.Card)
	}
	return out
}

// watchSSE serves WatchMyCalls as Server-Sent Events: one event per
// CallEvent, its event_id as the SSE id (so that a reconnecting EventSource
// sends it back as Last-Event-ID) and the CallEvent as protojson in data,
// flushed at once. Heartbeats have no id. An error before the stream opens
// is an HTTP error like the gateway's; one after it is an "error" event.
func (s *Server) watchSSE(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	md := metadata.Pairs("authorization", r.Header.Get("Authorization"))
	if id := r.Header.Get("X-Request-Id"); id != "" {
		md.Set("x-request-id", id)
	}
	ctx, reqID := withRequestID(metadata.NewIncomingContext(r.Context(), md))
	w.Header().Set("X-Request-Id", reqID)
	ctx, err := s.chain.authorize(ctx, watchMethod)
	if err != nil {
		err = s.chain.finish(ctx, watchMethod, reqID, start, err)
		writeHTTPError(w, status.Convert(err))
		return
	}
	req := &callverifyv1.WatchMyCallsRequest{
		Since:    r.Header.Get("Last-Event-ID"),
		Language: r.URL.Query().Get("language"),
	}
	if req.Since == "" {
		req.Since = r.URL.Query().Get("since")
	}
	bw := bufio.NewWriter(w)
	rc := http.NewResponseController(w)
	opts := protojson.MarshalOptions{}
	started := false
	err = s.verify.watch(ctx, req,
		func() error {
			started = true
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no") // a buffering proxy would hold the cards back
			w.WriteHeader(http.StatusOK)
			return rc.Flush()
		},
		func(e *callverifyv1.CallEvent) error {
			b, err := opts.Marshal(e)
			if err != nil {
				return err
			}
			if e.GetEventId() != "" {
				_, _ = bw.WriteString("id: " + e.GetEventId() + "\n")
			}
			_, _ = bw.WriteString("data: ")
			_, _ = bw.Write(b)
			_, _ = bw.WriteString("\n\n")
			if err := bw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		})
	if ctx.Err() != nil && err != nil {
		err = status.Error(codes.Canceled, "the client went away")
	}
	err = s.chain.finish(ctx, watchMethod, reqID, start, err)
	if err == nil {
		return
	}
	st := status.Convert(err)
	if !started {
		writeHTTPError(w, st)
		return
	}
	if st.Code() == codes.Canceled {
		return
	}
	b, _ := protojson.Marshal(st.Proto())
	_, _ = bw.WriteString("event: error\ndata: ")
	_, _ = bw.Write(b)
	_, _ = bw.WriteString("\n\n")
	_ = bw.Flush()
	_ = rc.Flush()
}
