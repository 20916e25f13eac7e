package server_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
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
