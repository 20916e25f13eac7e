package server_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// TestAnonymousLookupIsRateLimitedPerClientOverGRPCAndREST: the anonymous
// LookupNumber allows a burst per client address, then answers
// RESOURCE_EXHAUSTED (429 over REST). gRPC and REST clients on loopback
// share one address, so they share one bucket.
func TestAnonymousLookupIsRateLimitedPerClientOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.LookupRate = 0.001; c.LookupBurst = 4 })
	vc := callverifyv1.NewVerifyServiceClient(env.Conn)
	lookup := func() codes.Code {
		_, err := vc.LookupNumber(env.Ctx(""), &callverifyv1.LookupNumberRequest{Number: "+8613800138000"})
		return status.Code(err)
	}
	rest := func() int {
		return env.Do("POST", "/v1/verify/number", "", `{"number":"+8613800138000"}`).Status
	}
	for i := 0; i < 2; i++ {
		if got := lookup(); got != codes.OK {
			t.Fatalf("gRPC lookup %d within the burst: %v", i+1, got)
		}
		if got := rest(); got != http.StatusOK {
			t.Fatalf("REST lookup %d within the burst: %d", i+1, got)
		}
	}
	if got, want := lookup(), codes.ResourceExhausted; got != want {
		t.Errorf("gRPC lookup past the burst: %v, want %v", got, want)
	}
	if got, want := rest(), http.StatusTooManyRequests; got != want {
		t.Errorf("REST lookup past the burst: %d, want %d", got, want)
	}
	// Authenticated methods are not limited by it.
	if _, err := vc.CheckCaller(env.Ctx(env.Customer("+8613800138000")), &callverifyv1.CheckCallerRequest{CallerNumber: "+8613900139000"}); err != nil {
		t.Errorf("CheckCaller after the lookup limit: %v", err)
	}
}

// TestAutoBlockIsOffByDefaultAndBlocksWhenConfigured: with
// --auto-block-reporters 2, two distinct customers reporting a number block
// it, and the next check says KNOWN_FRAUD.
func TestAutoBlockIsOffByDefaultAndBlocksWhenConfigured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		reporters int
		want      callverifyv1.Verdict
	}{
		{"default", 0, callverifyv1.Verdict_VERDICT_UNKNOWN},
		{"two reporters", 2, callverifyv1.Verdict_VERDICT_KNOWN_FRAUD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, func(c *appConfig) { c.AutoBlockReporters = tc.reporters })
			vc := callverifyv1.NewVerifyServiceClient(env.Conn)
			for _, me := range []string{"+8613800138001", "+8613800138002"} {
				if _, err := vc.ReportCaller(env.Ctx(env.Customer(me)), &callverifyv1.ReportCallerRequest{
					CallerNumber: "+8618800009999", Note: "fake refund call",
				}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := vc.CheckCaller(env.Ctx(env.Customer("+8613800138003")), &callverifyv1.CheckCallerRequest{CallerNumber: "18800009999"})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.GetVerdict(); got != tc.want {
				t.Errorf("verdict after 2 reports = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOversizedAndMalformedBodiesAreRefusedClearly: REST bodies are bounded
// (1 MiB, bulk import aside) and bad JSON is INVALID_ARGUMENT, not a 500.
func TestOversizedAndMalformedBodiesAreRefusedClearly(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	tok := env.Customer("+8613800138000")
	big := `{"callerNumber":"` + strings.Repeat("1", 2<<20) + `"}`
	for _, tc := range []struct {
		name, body string
	}{
		{"oversized", big},
		{"not JSON", `{"callerNumber":`},
		{"wrong type", `{"callerNumber":42}`},
		{"number for a string", `{"callerNumber":"+8613900139000","language":7}`},
	} {
		resp := env.Do("POST", "/v1/verify/caller", tok, tc.body)
		if resp.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d %.200s, want 400", tc.name, resp.Status, resp.Body)
		}
	}
}

// TestBulkImportChecksTheCallerBeforeReadingAndBoundsLines: the import body
// is not size-limited, so the caller is checked before it is read, and no
// line may exceed 64 KiB: a longer one is a rejected row, never held whole.
func TestBulkImportChecksTheCallerBeforeReadingAndBoundsLines(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	entry := `{"pattern":"+8613300001111","category":"CATEGORY_SCAM"}` + "\n"
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"customer", env.Customer("+8613800138000"), http.StatusForbidden},
	} {
		if r := env.Do("POST", "/v1/blocklist:import", tc.token, entry); r.Status != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
	}
	long := `{"pattern":"+8613300002222","category":"CATEGORY_SCAM","reason":"` + strings.Repeat("x", 70<<10) + `"}` + "\n"
	r := env.Do("POST", "/v1/blocklist:import", env.Analyst(), entry+long)
	var lr callverifyv1.ImportEntriesResponse
	r.Into(t, &lr)
	if r.Status != http.StatusOK || lr.GetImported() != 1 || lr.GetRejected() != 1 || len(lr.GetErrors()) != 1 ||
		lr.GetErrors()[0].GetLine() != 2 || !strings.Contains(lr.GetErrors()[0].GetMessage(), "longer than 64 KiB") {
		t.Errorf("a 70 KiB line: %d %.300s, want it rejected as line 2 and the first line imported", r.Status, r.Body)
	}
	ok := env.Do("POST", "/v1/blocklist:import", env.Analyst(), entry)
	var res callverifyv1.ImportEntriesResponse
	ok.Into(t, &res)
	if res.GetImported()+res.GetUpdated() != 1 {
		t.Errorf("a good import after the refusals: %s", ok.Body)
	}
}

// lookupREST calls the anonymous LookupNumber over REST with the given
// X-Forwarded-For header lines, and returns the status and Retry-After.
func lookupREST(t *testing.T, env *testenv.Env, xff ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", env.HTTPURL+"/v1/verify/number", strings.NewReader(`{"number":"+8613800138000"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// lookupGRPC calls LookupNumber over gRPC with the given x-forwarded-for
// metadata.
func lookupGRPC(env *testenv.Env, xff ...string) codes.Code {
	ctx := env.Ctx("")
	for _, v := range xff {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", v)
	}
	_, err := callverifyv1.NewVerifyServiceClient(env.Conn).LookupNumber(ctx, &callverifyv1.LookupNumberRequest{Number: "+8613800138000"})
	return status.Code(err)
}

// metric reads one sample of /metrics, e.g. `callverify_lookup_limiter_keys`.
func metric(t *testing.T, env *testenv.Env, sample string) float64 {
	t.Helper()
	r := env.Do("GET", "/metrics", "", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("/metrics has no %s", sample)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSpoofedForwardedForFromAnUntrustedPeerDoesNotEscapeTheLimit: with no
// trusted proxies, a client that writes a new X-Forwarded-For (REST, also
// as gRPC metadata and through the gateway's Grpc-Metadata- prefix) on
// each request is still one client: its burst is spent, then 429.
func TestSpoofedForwardedForFromAnUntrustedPeerDoesNotEscapeTheLimit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.LookupRate = 0.001; c.LookupBurst = 3 })
	for i := 0; i < 3; i++ {
		if got, _ := lookupREST(t, env, fmt.Sprintf("198.51.100.%d", i)); got != http.StatusOK {
			t.Fatalf("lookup %d within the burst: %d", i+1, got)
		}
	}
	for i := 3; i < 6; i++ {
		if got, _ := lookupREST(t, env, fmt.Sprintf("198.51.100.%d", i), fmt.Sprintf("203.0.113.%d", i)); got != http.StatusTooManyRequests {
			t.Errorf("REST lookup with a spoofed X-Forwarded-For past the burst: %d, want 429", got)
		}
		if got := lookupGRPC(env, fmt.Sprintf("198.51.100.%d", i)); got != codes.ResourceExhausted {
			t.Errorf("gRPC lookup with spoofed x-forwarded-for past the burst: %v, want ResourceExhausted", got)
		}
	}
	req, _ := http.NewRequest("POST", env.HTTPURL+"/v1/verify/number", strings.NewReader(`{"number":"+8613800138000"}`))
	req.Header.Set("Grpc-Metadata-X-Forwarded-For", "192.0.2.77")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("REST lookup with Grpc-Metadata-X-Forwarded-For past the burst: %d, want 429", resp.StatusCode)
	}
}

// TestBehindATrustedProxyTheRightmostUntrustedHopIsTheClient: with the
// loopback trusted, the client is the last hop the proxy appended; hops
// left of it (written by the client) change nothing; another client behind
// the same proxy has its own bucket. Over REST and gRPC alike.
func TestBehindATrustedProxyTheRightmostUntrustedHopIsTheClient(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) {
		c.LookupRate, c.LookupBurst = 0.001, 2
		c.Edge.TrustedProxies = []string{"127.0.0.0/8", "10.0.0.0/8"}
	})
	// 198.51.100.7 -> proxy 10.0.0.5 -> (loopback) server, with a forged
	// left part that changes every time.
	for i := 0; i < 2; i++ {
		if got, _ := lookupREST(t, env, fmt.Sprintf("6.6.6.%d, 198.51.100.7, 10.0.0.5", i)); got != http.StatusOK {
			t.Fatalf("lookup %d of 198.51.100.7 within its burst: %d", i+1, got)
		}
	}
	got, retry := lookupREST(t, env, "6.6.6.99, 198.51.100.7, 10.0.0.5")
	if got != http.StatusTooManyRequests {
		t.Errorf("198.51.100.7 past its burst with a new forged hop: %d, want 429", got)
	}
	if retry == "" {
		t.Error("429 without Retry-After")
	}
	if got := lookupGRPC(env, "6.6.6.100, 198.51.100.7"); got != codes.ResourceExhausted {
		t.Errorf("gRPC: 198.51.100.7 past its burst: %v, want ResourceExhausted", got)
	}
	if got, _ := lookupREST(t, env, "6.6.6.1, 198.51.100.8, 10.0.0.5"); got != http.StatusOK {
		t.Errorf("another client behind the proxy: %d, want 200", got)
	}
	if got := lookupGRPC(env, "198.51.100.9"); got != codes.OK {
		t.Errorf("gRPC: another client behind the proxy: %v, want OK", got)
	}
}

// TestIPv6ClientsInOneSlash64ShareABucket: two addresses of one /64 are
// one client; an address of the next /64 is another.
func TestIPv6ClientsInOneSlash64ShareABucket(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) {
		c.LookupRate, c.LookupBurst = 0.001, 2
		c.Edge.TrustedProxies = []string{"127.0.0.1/32"}
	})
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"} {
		if got, _ := lookupREST(t, env, a); got != http.StatusOK {
			t.Fatalf("%s within the /64's burst: %d", a, got)
		}
	}
	if got, _ := lookupREST(t, env, "2001:db8:1:2:abcd::9"); got != http.StatusTooManyRequests {
		t.Errorf("a third address of the same /64: %d, want 429", got)
	}
	if got := lookupGRPC(env, "2001:db8:1:2::42"); got != codes.ResourceExhausted {
		t.Errorf("gRPC: a fourth address of the same /64: %v, want ResourceExhausted", got)
	}
	if got, _ := lookupREST(t, env, "2001:db8:1:3::1"); got != http.StatusOK {
		t.Errorf("an address of the next /64: %d, want 200", got)
	}
}

// TestGlobalLookupCapHoldsAcrossManyAddresses: every client has its own
// bucket, but all of them together get no more than the instance's burst.
func TestGlobalLookupCapHoldsAcrossManyAddresses(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) {
		c.LookupRate, c.LookupBurst = 0.001, 10
		c.Edge.LookupGlobalRate, c.Edge.LookupGlobalBurst = 0.001, 5
		c.Edge.TrustedProxies = []string{"127.0.0.1/32"}
	})
	ok := 0
	for i := 0; i < 40; i++ {
		got, retry := lookupREST(t, env, fmt.Sprintf("198.51.%d.%d", i/200, i%200+1))
		switch got {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			if retry == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("lookup from client %d: %d", i, got)
		}
	}
	if ok != 5 {
		t.Errorf("40 clients, one lookup each: %d allowed, want exactly 5 (the instance's burst)", ok)
	}
	if got := metric(t, env, `callverify_lookup_refused_total{reason="global"}`); got != 35 {
		t.Errorf("refused for the global cap: %v, want 35", got)
	}
}

// TestLookupLimiterMemoryIsBounded: 300 clients with a limit of 50 keys
// leave 50 keys and 250 evictions, and a client still in the table keeps
// its spent bucket.
func TestLookupLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) {
		c.LookupRate, c.LookupBurst = 0.001, 1
		c.Edge.LookupMaxClients = 50
		c.Edge.LookupGlobalRate, c.Edge.LookupGlobalBurst = 1000, 1000
		c.Edge.TrustedProxies = []string{"127.0.0.1/32"}
	})
	for i := 0; i < 300; i++ {
		if got, _ := lookupREST(t, env, fmt.Sprintf("2001:db8:%x::1", i)); got != http.StatusOK {
			t.Fatalf("first lookup of client %d: %d", i, got)
		}
	}
	if got := metric(t, env, "callverify_lookup_limiter_keys"); got != 50 {
		t.Errorf("keys held = %v, want 50", got)
	}
	if got := metric(t, env, "callverify_lookup_limiter_evictions_total"); got != 250 {
		t.Errorf("evictions = %v, want 250", got)
	}
	if got, _ := lookupREST(t, env, "2001:db8:12b::1"); got != http.StatusTooManyRequests {
		t.Errorf("the most recent client's second lookup: %d, want 429", got)
	}
}
