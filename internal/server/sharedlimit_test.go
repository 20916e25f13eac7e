package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/directory"
	"github.com/callverify/callverify/internal/hmackeys"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/ratelimit"
	"github.com/callverify/callverify/internal/ratelimit/redislimit"
	"github.com/callverify/callverify/internal/redistest"
	"github.com/callverify/callverify/internal/store/boltstore"
	"github.com/callverify/callverify/verify"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// lookupDeps is a real calls and numbers domain on a temporary bbolt store:
// what LookupNumber answers from once the limiters let a request through.
func lookupDeps(t *testing.T) *Deps {
	t.Helper()
	db, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	as, err := boltstore.NewAuditStore(db)
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(as, time.Now)
	bs, err := boltstore.NewBlocklistStore(db, boltstore.BlocklistOptions{PseudonymKey: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := phone.NewParser("CN")
	if err != nil {
		t.Fatal(err)
	}
	bl, err := blocklist.NewService(blocklist.Config{Store: bs, Audit: rec, Phone: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	vs, err := boltstore.NewVerifyStore(db)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewService(verify.Config{
		Store: vs, Directory: directory.New(bl), Audit: rec, Phone: p, KEK: bytes.Repeat([]byte{2}, 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Deps{Verify: v, Blocklist: bl, Audit: rec, Phone: p}
}

// serveLookups starts a server with edge's limiters on loopback and
// returns a VerifyService client of it and the URL of its /metrics; it
// stops when t ends.
func serveLookups(t *testing.T, deps *Deps, lookupBurst int, edge EdgeConfig) (callverifyv1.VerifyServiceClient, string) {
	t.Helper()
	s, err := New(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: refuseAll{}, Ready: func(context.Context) error { return nil },
		ShutdownTimeout: 2 * time.Second, LookupRate: 1.0 / 3600, LookupBurst: lookupBurst, Edge: edge,
	}, deps)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, gl, hl) }()
	cc, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return callverifyv1.NewVerifyServiceClient(cc), "http://" + hl.Addr().String() + "/metrics"
}

// refused is the instance's count of lookups refused for reason.
func refused(t *testing.T, metricsURL, reason string) int {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^callverify_lookup_refused_total\{reason="` + reason + `"\} (\d+)$`).FindSubmatch(b)
	if line == nil {
		t.Fatalf("no callverify_lookup_refused_total{reason=%q} in /metrics", reason)
	}
	n, err := strconv.Atoi(string(line[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTwoInstancesOnOneRedisAllowOneBudget: two servers, each with its own
// Redis client and limiters on one Redis, answer LookupNumber for the same
// client address taking turns; together they allow exactly one budget, of
// the client (burst 3) or of all clients (burst 4), whichever is smaller.
// With the in-memory limiters (no Redis) each instance has its own, and
// the two allow twice the client's burst.
func TestTwoInstancesOnOneRedisAllowOneBudget(t *testing.T) {
	t.Parallel()
	const slow = rate.Limit(1.0 / 3600) // nothing refills while the test runs
	deps := lookupDeps(t)
	ring, err := hmackeys.New(bytes.Repeat([]byte{3}, hmackeys.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Standalone(t)
	redisLimiter := func(t *testing.T, prefix, name string, burst int) ratelimit.Limiter {
		t.Helper()
		l, err := redislimit.New(redislimit.Config{
			Client: srv.Client(t), Prefix: prefix, Name: name, Rate: slow, Burst: burst, Keys: ring,
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		name         string
		clientBurst  int
		globalBurst  int
		shared       bool
		wantAllowed  int
		wantRefusals string // the limit that refuses: "client" or "global"
	}{
		{"client limit on Redis", 3, 100, true, 3, "client"},
		{"global cap on Redis", 100, 4, true, 4, "global"},
		{"in memory, each instance its own", 3, 100, false, 6, "client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := redistest.Prefix(t)
			var clients [2]callverifyv1.VerifyServiceClient
			var metrics [2]string
			for i := range clients {
				edge := EdgeConfig{LookupGlobalRate: slow, LookupGlobalBurst: tc.globalBurst}
				if tc.shared {
					edge.LookupLimiter = redisLimiter(t, prefix, "lookup", tc.clientBurst)
					edge.LookupGlobalLimiter = redisLimiter(t, prefix, "lookup-global", tc.globalBurst)
				}
				clients[i], metrics[i] = serveLookups(t, deps, tc.clientBurst, edge)
			}
			allowed := 0
			for i := 0; i < 12; i++ {
				_, err := clients[i%2].LookupNumber(context.Background(), &callverifyv1.LookupNumberRequest{Number: "+8613800138000"})
				switch status.Code(err) {
				case codes.OK:
					allowed++
				case codes.ResourceExhausted:
				default:
					t.Fatalf("lookup %d on instance %d: %v", i+1, i%2+1, err)
				}
			}
			if allowed != tc.wantAllowed {
				t.Errorf("12 lookups taking turns on two instances: %d allowed, want %d", allowed, tc.wantAllowed)
			}
			if got, want := refused(t, metrics[0], tc.wantRefusals)+refused(t, metrics[1], tc.wantRefusals), 12-tc.wantAllowed; got != want {
				t.Errorf("refused by the %s limit: %d, want %d", tc.wantRefusals, got, want)
			}
		})
	}
}
