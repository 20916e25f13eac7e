package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// With --json, the commands that once printed by hand print the RPC's
// answer as protojson, the whole of it, with nothing around it.
func TestJSONIsTheRPCsAnswer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	admin, dialer, alice := env.Admin(), env.Dialer(), env.Customer("+8613800138000")
	jsonOf := func(m proto.Message, token string, args ...string) {
		t.Helper()
		out, err := run(t, env, token, append([]string{"--json"}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if err := protojson.Unmarshal([]byte(out), m); err != nil {
			t.Fatalf("%s --json printed no %T: %v\n%s", strings.Join(args, " "), m, err, out)
		}
	}

	var official callverifyv1.OfficialNumber
	jsonOf(&official, admin, "official", "create", "+864008008888", "--name", "Customer service")
	var officials callverifyv1.ListOfficialNumbersResponse
	jsonOf(&officials, admin, "official", "list")
	if len(officials.GetOfficialNumbers()) != 1 || officials.GetOfficialNumbers()[0].GetNumber() != official.GetNumber() {
		t.Errorf("official list --json: %v", &officials)
	}

	var stamped callverifyv1.StampCallResponse
	jsonOf(&stamped, dialer, "call", "stamp", "--from", "+864008008888", "--to", "+8613800138000",
		"--reason", "refund", "--agent-id", "a-7", "--agent-name", "Wang")
	id := stamped.GetCall().GetCallId()
	if id == "" || stamped.GetToken() == "" || stamped.GetConfirmationCode() == "" {
		t.Fatalf("call stamp --json: %v", &stamped)
	}
	var code callverifyv1.GetConfirmationCodeResponse
	if jsonOf(&code, dialer, "call", "code", id); code.GetConfirmationCode() != stamped.GetConfirmationCode() {
		t.Errorf("call code --json: %v, stamped %q", &code, stamped.GetConfirmationCode())
	}
	var check callverifyv1.CheckCallerResponse
	if jsonOf(&check, alice, "check", "+864008008888"); check.GetVerdict() != callverifyv1.Verdict_VERDICT_VERIFIED {
		t.Errorf("check --json: %v", &check)
	}
	var calls callverifyv1.ListCallsResponse
	if jsonOf(&calls, admin, "call", "ls", "--caller", "+864008008888"); len(calls.GetCalls()) != 1 || calls.GetCalls()[0].GetCallId() != id {
		t.Errorf("call ls --json: %v", &calls)
	}
	var ended callverifyv1.Call
	if jsonOf(&ended, dialer, "call", "end", id); ended.GetState() != callverifyv1.CallState_CALL_STATE_ENDED {
		t.Errorf("call end --json: %v", &ended)
	}
	var got callverifyv1.Call
	if jsonOf(&got, dialer, "call", "get", id); got.GetCallId() != id {
		t.Errorf("call get --json: %v", &got)
	}
	var endAll callverifyv1.EndCallsResponse
	if jsonOf(&endAll, admin, "call", "end-all", "--caller", "+864008008888"); endAll.GetEndedCount() != 0 {
		t.Errorf("call end-all --json after the only call ended: %v", &endAll)
	}

	if r := env.Do("POST", "/v1/me/callbacks", alice, map[string]any{"reason": "CALL_REASON_REFUND"}); r.Status != http.StatusOK {
		t.Fatalf("request a callback: %d %s", r.Status, r.Body)
	}
	var queue callverifyv1.ListCallbacksResponse
	if jsonOf(&queue, dialer, "callbacks", "ls"); len(queue.GetCallbacks()) != 1 {
		t.Fatalf("callbacks ls --json: %v", &queue)
	}
	var claimed callverifyv1.CallbackRequest
	if jsonOf(&claimed, dialer, "callbacks", "claim", queue.GetCallbacks()[0].GetRequestId()); claimed.GetCalleeNumber() != "+8613800138000" {
		t.Errorf("callbacks claim --json: %v", &claimed)
	}

	// Export's --json is its NDJSON: one entry a line.
	if out, err := run(t, env, env.Analyst(), "blocklist", "add", "+8617000001111", "--category", "scam"); err != nil {
		t.Fatalf("blocklist add: %v\n%s", err, out)
	}
	out, err := run(t, env, env.Analyst(), "--json", "blocklist", "export", "--no-progress")
	var e callverifyv1.Entry
	if err != nil || strings.Count(out, "\n") != 1 || protojson.Unmarshal([]byte(out), &e) != nil || e.GetPattern() != "+8617000001111" {
		t.Errorf("blocklist export --json: %v\n%s", err, out)
	}

	dir := filepath.Join(t.TempDir(), "data") // created 0700 by mint
	var minted structpb.Struct
	jsonOf(&minted, "", "token", "mint", "--data-dir", dir, "--role", "admin", "--sub", "x")
	if tok := minted.GetFields()["token"].GetStringValue(); strings.Count(tok, ".") != 2 {
		t.Errorf("token mint --json: %v", &minted)
	}
}

// The CLI's JSON has one layout, whatever whitespace protojson chose for
// this build: compact lines have none between tokens, and the indented
// form is encoding/json's indent of them.
func TestJSONLayoutIsStable(t *testing.T) {
	t.Parallel()
	m := &callverifyv1.CheckCallerResponse{
		Verdict: callverifyv1.Verdict_VERDICT_UNKNOWN, CallerNumber: "+8613912345678",
		Message: "a, b: c", Advice: []string{"one", "two"},
	}
	line, err := stableJSON(m, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(line), `{"verdict":"VERDICT_UNKNOWN","callerNumber":"+8613912345678","message":"a, b: c","advice":["one","two"]}`; got != want {
		t.Errorf("compact:\n%s\nwant\n%s", got, want)
	}
	var b strings.Builder
	if err := printJSON(&b, m); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"verdict\": \"VERDICT_UNKNOWN\",\n  \"callerNumber\": \"+8613912345678\",\n  \"message\": \"a, b: c\",\n" +
		"  \"advice\": [\n    \"one\",\n    \"two\"\n  ]\n}\n"
	if b.String() != want {
		t.Errorf("indented:\n%s\nwant\n%s", b.String(), want)
	}
}
