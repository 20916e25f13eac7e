package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// A customer sees the call stamped to them, confirms its code (a wrong one
// first), reports another caller, and asks for, lists and cancels a
// callback, all from the CLI.
func TestCustomerCallsConfirmReportAndCallbacks(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	alice := env.Customer("+8613800138000")
	// The server runs on the test clock, days from the CLI's: times go
	// as RFC 3339, not as durations from the CLI's now.
	at := func(d time.Duration) string { return env.Clock.Now().Add(d).Format(time.RFC3339) }
	mustRun := func(token string, args ...string) string {
		t.Helper()
		out, err := run(t, env, token, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := mustRun(alice, "me", "calls"); out != "0 live calls\n" {
		t.Errorf("me calls before any call: %q", out)
	}
	mustRun(env.Admin(), "official", "create", "+864008008888", "--name", "Customer service")
	stamped := mustRun(env.Dialer(), "call", "stamp", "--from", "+864008008888", "--to", "+8613800138000",
		"--reason", "refund", "--agent-id", "a-7", "--agent-name", "Wang")
	m := regexp.MustCompile(`(?m)^call\s+(\S+)\ncode\s+(\d+) `).FindStringSubmatch(stamped)
	if m == nil {
		t.Fatalf("stamp:\n%s", stamped)
	}
	callID, code := m[1], m[2]

	out := mustRun(alice, "me", "calls", "--language", "en")
	if !strings.Contains(out, "call "+callID+" from +864008008888 (Wang, refund) code "+code+" ") || !strings.HasSuffix(out, "1 live call\n") {
		t.Errorf("me calls:\n%s", out)
	}
	var mine callverifyv1.ListMyCallsResponse
	if err := protojson.Unmarshal([]byte(mustRun(alice, "--json", "me", "calls")), &mine); err != nil {
		t.Fatalf("me calls --json: %v", err)
	}
	if len(mine.GetCalls()) != 1 || mine.GetCalls()[0].GetCall().GetCallId() != callID {
		t.Errorf("me calls --json: %v", &mine)
	}

	wrong := "000000"[:len(code)]
	if wrong == code {
		wrong = "111111"[:len(code)]
	}
	if out := mustRun(alice, "me", "confirm", callID, wrong); !regexp.MustCompile(`^NO MATCH: \d+ attempts remaining\n$`).MatchString(out) {
		t.Errorf("me confirm with a wrong code: %q", out)
	}
	if out := mustRun(alice, "me", "confirm", callID, code); out != "match: call "+callID+" from +864008008888 (Wang) is genuine\n" {
		t.Errorf("me confirm: %q", out)
	}

	if out := mustRun(alice, "report", "170 0000 1111", "--note", "said my refund was ready", "--at", at(-15*time.Minute)); !strings.HasPrefix(out, "reported +8617000001111 (report ") {
		t.Errorf("report: %q", out)
	}
	if out := mustRun(env.Analyst(), "reports", "list"); !strings.Contains(out, "+8617000001111") || !strings.Contains(out, "said my refund was ready") {
		t.Errorf("reports list after a report:\n%s", out)
	}

	out = mustRun(alice, "me", "callbacks", "request", "--reason", "delivery", "--order", "ORD-9", "--window-start", at(time.Hour), "--window-end", at(3*time.Hour))
	req := regexp.MustCompile(`(?m)^request\s+(\S+)\nstate\s+open\nqueue\s+1\n`).FindStringSubmatch(out)
	if req == nil {
		t.Fatalf("me callbacks request:\n%s", out)
	}
	if out := mustRun(alice, "me", "callbacks", "ls"); !strings.Contains(out, req[1]) || !strings.Contains(out, "ORD-9") || !strings.Contains(out, "open") {
		t.Errorf("me callbacks ls:\n%s", out)
	}
	if out := mustRun(alice, "me", "callbacks", "cancel", req[1]); out != "request "+req[1]+" is cancelled\n" {
		t.Errorf("me callbacks cancel: %q", out)
	}
	if _, err := run(t, env, alice, "me", "callbacks", "request", "--reason", "delivery", "--window-start", at(time.Hour)); err == nil {
		t.Error("a window with a start and no end was sent")
	}
}
