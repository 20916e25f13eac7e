package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// The running service sweeps: a call past its retention is gone (NOT_FOUND)
// once the sweeper has run, which it does when the service starts and every
// --retention-sweep-interval after; a younger call stays. The sweep is
// recorded as the system's, and counted on /metrics.
func TestTheServiceSweepsCallsPastTheirRetention(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *appConfig) { c.CallRetention = 24 * time.Hour })
	officialNumbers(t, env)
	old := stampREST(t, env, stampBody("138 0013 8000")).GetCall().GetCallId()
	env.Clock.Advance(24*time.Hour + 10*time.Minute + time.Second) // 10 minutes: the default ttl
	young := stampREST(t, env, stampBody("138 0013 8000")).GetCall().GetCallId()
	if resp := env.Do("GET", "/v1/calls/"+old, env.Admin(), nil); resp.Status != http.StatusOK {
		t.Fatalf("the old call before a sweep: %d %s", resp.Status, resp.Body)
	}

	env.Restart() // a sweep runs at start
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := env.Do("GET", "/v1/calls/"+old, env.Admin(), nil)
		if resp.Status == http.StatusNotFound {
			break
		}
		if resp.Status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("the old call after the start's sweep: %d %s, want 404", resp.Status, resp.Body)
		}
		time.Sleep(10 * time.Millisecond) // the sweeper's goroutine, not the clock
	}
	if resp := env.Do("GET", "/v1/calls/"+young, env.Admin(), nil); resp.Status != http.StatusOK {
		t.Errorf("the young call after the sweep: %d %s", resp.Status, resp.Body)
	}

	resp := env.Do("GET", "/v1/audit-events?action=call.prune", env.Analyst(), nil)
	var ae callverifyv1.ListAuditEventsResponse
	resp.Into(t, &ae)
	if len(ae.GetEvents()) != 1 {
		t.Fatalf("call.prune events: %s, want one", resp.Body)
	}
	e := ae.GetEvents()[0]
	if e.GetActor() != "callverify" || e.GetRole() != "system" || e.GetAfter().GetFields()["pruned_calls"].GetNumberValue() != 1 {
		t.Errorf("prune event %v, want the system's, pruning 1 call", e)
	}
	// The counter moves just after the step commits: wait for it too.
	for {
		metrics := env.Do("GET", "/metrics", "", nil)
		if strings.Contains(string(metrics.Body), `callverify_retention_pruned_total{kind="calls"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count the pruned call:\n%s", metrics.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
