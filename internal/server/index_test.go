package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/clocktest"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/store/boltstore"
)

// TestReadinessFailsWhileTheIndexLags: /readyz and gRPC health go
// NOT_SERVING once the blocklist index has not been known current for more
// than IndexMaxLag, come back when the follower catches up, and /metrics
// shows the follower.
func TestReadinessFailsWhileTheIndexLags(t *testing.T) {
	t.Parallel()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	p, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	// The follower polls only when this instance writes, and its lag is
	// measured on a clock the test moves.
	lagClock := clocktest.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	bl, err := blocklist.NewService(blocklist.Config{
		Store: st, Audit: audit.NewRecorder(as, time.Now), Phone: p,
		Follow: blocklist.Follow{Interval: time.Hour, Clock: lagClock.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	s, err := New(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: refuseAll{},
		Ready:         func(context.Context) error { return nil },
		ReadyInterval: 10 * time.Millisecond, IndexMaxLag: 5 * time.Second, ShutdownTimeout: 2 * time.Second,
	}, &Deps{Blocklist: bl})
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, gl, hl) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	cc, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + hl.Addr().String() + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, want healthpb.HealthCheckResponse_ServingStatus, wantHTTP int, wantBody string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "callverify.v1.BlocklistService"})
			got := healthpb.HealthCheckResponse_UNKNOWN
			if err == nil {
				got = r.GetStatus()
			}
			code, body := get("/readyz")
			if got == want && code == wantHTTP && strings.Contains(body, wantBody) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %v and /readyz %d %q, want %v and %d %q", what, got, code, body, want, wantHTTP, wantBody)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("index current", healthpb.HealthCheckResponse_SERVING, 200, "ready")
	lagClock.Advance(5 * time.Second)
	waitFor("index exactly at the bound", healthpb.HealthCheckResponse_SERVING, 200, "ready")
	lagClock.Advance(time.Millisecond)
	waitFor("index behind", healthpb.HealthCheckResponse_NOT_SERVING, 503, "blocklist index behind the store")
	if _, body := get("/metrics"); !strings.Contains(body, "callverify_blocklist_index_lag_seconds 5.001\n") ||
		!strings.Contains(body, "callverify_blocklist_index_reloads_total 1\n") {
		t.Errorf("/metrics does not show the lag (5.001s) and the one reload:\n%s", grepLines(body, "callverify_blocklist_index"))
	}
	// A write wakes the follower, which finds the index current again.
	if _, err := bl.CreateEntry(context.Background(), audit.Actor{Subject: "analyst-1", Role: "analyst"},
		blocklist.Entry{Pattern: "+8613800138000", Category: blocklist.CategoryScam}); err != nil {
		t.Fatal(err)
	}
	waitFor("index caught up", healthpb.HealthCheckResponse_SERVING, 200, "ready")
	if _, body := get("/metrics"); !strings.Contains(body, "callverify_blocklist_index_sequence 1\n") ||
		!strings.Contains(body, "callverify_blocklist_index_entries 1\n") ||
		!strings.Contains(body, "callverify_blocklist_index_lag_seconds 0\n") {
		t.Errorf("/metrics after the write:\n%s", grepLines(body, "callverify_blocklist_index"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
