package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// ndjsonRows is n good lines, 2 to n+1 after a blank first line.
func ndjsonRows(from, n int) []string {
	lines := make([]string, 0, n)
	for i := range n {
		lines = append(lines, fmt.Sprintf(`{"pattern":"+86170%08d","category":"CATEGORY_SCAM","confidence":60}`, from+i))
	}
	return lines
}

// TestRESTImportRejectsABadLineAloneAndImportsTheRest: a malformed line
// after a batch has committed used to end the request with an error, the
// committed rows in the store and the rest of the file dropped. Now every
// bad line is one rejected row, named by its line, and the rest is imported.
func TestRESTImportRejectsABadLineAloneAndImportsTheRest(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	lines := ndjsonRows(0, 2500)
	// Line numbers count every line of the body, blank ones too.
	lines = append([]string{""}, lines...)                                                  // line 1: blank
	lines[1500] = `{"pattern":"+8617000001499","category":"CATEGORY_SCAM"`                  // line 1501: cut short
	lines[1800] = `{"pattern":"+8617000001799","category":"CATEGORY_SCAM","expireTim":"x"}` // line 1801: unknown field
	lines[2000] = `{"pattern":"+86*","category":"CATEGORY_SCAM"}`                           // line 2001: not importable
	resp := env.Do("POST", "/v1/blocklist:import", env.Analyst(), strings.Join(lines, "\n")+"\n")
	if resp.Status != http.StatusOK {
		t.Fatalf("import: %d %s, want 200 with the bad lines rejected", resp.Status, resp.Body)
	}
	var res callverifyv1.ImportEntriesResponse
	resp.Into(t, &res)
	if res.GetImported() != 2497 || res.GetUpdated() != 0 || res.GetRejected() != 3 || res.GetInterrupted() {
		t.Errorf("import = %d imported, %d updated, %d rejected (interrupted %v); want 2497, 0, 3",
			res.GetImported(), res.GetUpdated(), res.GetRejected(), res.GetInterrupted())
	}
	var got []string
	for _, e := range res.GetErrors() {
		got = append(got, fmt.Sprintf("line %d (row %d)", e.GetLine(), e.GetIndex()))
	}
	if want := "[line 1501 (row 1499) line 1801 (row 1799) line 2001 (row 1999)]"; fmt.Sprint(got) != want {
		t.Errorf("errors at %v, want %s", got, want)
	}
	if msg := res.GetErrors()[1].GetMessage(); !strings.Contains(msg, "expireTim") {
		t.Errorf("the unknown field's error %q does not name it", msg)
	}
	list := env.Do("GET", "/v1/blocklist/entries?page_size=1", env.Analyst(), nil)
	var le callverifyv1.ListEntriesResponse
	list.Into(t, &le)
	if le.GetTotalSize() != 2497 {
		t.Errorf("the store holds %d entries, want the 2497 good rows", le.GetTotalSize())
	}
}

// TestImportFacesJudgeTheSameRowsAlike: the same lines sent over gRPC as
// text rows and posted over REST get the same answer.
func TestImportFacesJudgeTheSameRowsAlike(t *testing.T) {
	t.Parallel()
	lines := append(ndjsonRows(0, 3), `{"pattern":`, `{"pattern":"+86170000000x","category":"CATEGORY_SCAM"}`, `[1,2]`)
	answer := func(res *callverifyv1.ImportEntriesResponse) string {
		return protojson.Format(res)
	}
	grpcEnv, restEnv := testenv.New(t), testenv.New(t)
	st, err := callverifyv1.NewBlocklistServiceClient(grpcEnv.Conn).ImportEntries(grpcEnv.Ctx(grpcEnv.Analyst()))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if err := st.Send(&callverifyv1.Entry{ImportRow: &callverifyv1.ImportRow{Line: int64(i + 1), Json: l}}); err != nil {
			t.Fatal(err)
		}
	}
	gres, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	resp := restEnv.Do("POST", "/v1/blocklist:import", restEnv.Analyst(), strings.Join(lines, "\n"))
	var rres callverifyv1.ImportEntriesResponse
	resp.Into(t, &rres)
	if g, r := answer(gres), answer(&rres); g != r {
		t.Errorf("gRPC answered\n%s\nREST answered\n%s", g, r)
	}
	if gres.GetImported() != 3 || gres.GetRejected() != 3 {
		t.Errorf("answer = %v, want 3 imported and 3 rejected", gres)
	}
	// A text row carries nothing else.
	st, err = callverifyv1.NewBlocklistServiceClient(grpcEnv.Conn).ImportEntries(grpcEnv.Ctx(grpcEnv.Analyst()))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&callverifyv1.Entry{Pattern: "+8613800138000", ImportRow: &callverifyv1.ImportRow{Json: lines[0]}}); err != nil {
		t.Fatal(err)
	}
	if res, err := st.CloseAndRecv(); err != nil || res.GetRejected() != 1 {
		t.Errorf("a text row with fields = %v, %v; want it rejected", res, err)
	}
}

// waitForEntries polls until the store holds at least n entries: the
// import's first batch has committed.
func waitForEntries(t *testing.T, env *testenv.Env, n int32) {
	t.Helper()
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := bl.ListEntries(env.Ctx(env.Analyst()), &callverifyv1.ListEntriesRequest{PageSize: 1})
		if err == nil && res.GetTotalSize() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store never held %d entries (%v, %v)", n, res, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countAfterRestart restarts the service and counts its entries and the
// created entries its import records add up to.
func countAfterRestart(t *testing.T, env *testenv.Env) (entries int32, recorded float64) {
	t.Helper()
	env.Restart()
	res, err := callverifyv1.NewBlocklistServiceClient(env.Conn).ListEntries(env.Ctx(env.Analyst()), &callverifyv1.ListEntriesRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := callverifyv1.NewBlocklistServiceClient(env.Conn).ListAuditEvents(env.Ctx(env.Analyst()),
		&callverifyv1.ListAuditEventsRequest{Action: "entry.import", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.GetEvents() {
		recorded += e.GetAfter().GetFields()["created"].GetNumberValue()
	}
	return res.GetTotalSize(), recorded
}

// TestShutdownLetsAGRPCImportCommitAndAnswer: a client is still streaming
// when the server is told to stop. The import stops taking rows, commits the
// batch it holds and answers with what was committed, instead of holding
// shutdown until its deadline and being cut off with no answer.
func TestShutdownLetsAGRPCImportCommitAndAnswer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	cc, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := callverifyv1.NewBlocklistServiceClient(cc).ImportEntries(env.Ctx(env.Analyst()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if err := st.Send(&callverifyv1.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: callverifyv1.Category_CATEGORY_SCAM}); err != nil {
			t.Fatal(err)
		}
	}
	waitForEntries(t, env, 1000)
	stopped := make(chan struct{})
	start := time.Now()
	go func() { env.Stop(); close(stopped) }()
	defer func() { <-stopped }() // testenv's Stop must not run twice at once
	// The client has not closed its side: the answer comes from the drain.
	res := &callverifyv1.ImportEntriesResponse{}
	if err := st.RecvMsg(res); err != nil {
		t.Fatalf("the import got no answer at shutdown: %v", err)
	}
	<-stopped
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("shutdown took %v: it waited for the import instead of draining it", took)
	}
	if !res.GetInterrupted() || res.GetImported() < 1000 || res.GetRejected() != 0 {
		t.Errorf("answer = %v, want interrupted with at least the first batch imported", res)
	}
	entries, recorded := countAfterRestart(t, env)
	if int64(entries) != res.GetImported() || int64(recorded) != res.GetImported() {
		t.Errorf("answered %d imported; the store holds %d, its records say %v", res.GetImported(), entries, recorded)
	}
}

// TestShutdownLetsARESTImportCommitAndAnswer is the same over REST: the
// body is still open when the server stops.
func TestShutdownLetsARESTImportCommitAndAnswer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(context.Background(), "POST", env.HTTPURL+"/v1/blocklist:import", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.Analyst())
	req.Header.Set("Content-Type", "application/x-ndjson")
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	client := &http.Client{Transport: &http.Transport{}}
	go func() {
		resp, err := client.Do(req)
		done <- result{resp, err}
	}()
	if _, err := io.WriteString(pw, strings.Join(ndjsonRows(0, 1500), "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	waitForEntries(t, env, 1000)
	stopped := make(chan struct{})
	start := time.Now()
	go func() { env.Stop(); close(stopped) }()
	defer func() { <-stopped }() // testenv's Stop must not run twice at once
	r := <-done
	if r.err != nil {
		t.Fatalf("the import got no answer at shutdown: %v", r.err)
	}
	body, _ := io.ReadAll(r.resp.Body)
	r.resp.Body.Close()
	<-stopped
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("shutdown took %v: it waited for the import instead of draining it", took)
	}
	var res callverifyv1.ImportEntriesResponse
	if r.resp.StatusCode != http.StatusOK || protojson.Unmarshal(body, &res) != nil {
		t.Fatalf("answer = %d %s, want 200 with the counts", r.resp.StatusCode, body)
	}
	if !res.GetInterrupted() || res.GetImported() < 1000 {
		t.Errorf("answer = %s, want interrupted with at least the first batch imported", body)
	}
	entries, recorded := countAfterRestart(t, env)
	if int64(entries) != res.GetImported() || int64(recorded) != res.GetImported() {
		t.Errorf("answered %d imported; the store holds %d, its records say %v", res.GetImported(), entries, recorded)
	}
}

// TestABrokenImportLeavesItsCommittedBatchWithItsRecord: the client goes
// away after a batch has committed. The batch's rows and its record (the
// patterns it created) are in the store together; the rows still batched
// are dropped, and a last record says how many.
func TestABrokenImportLeavesItsCommittedBatchWithItsRecord(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx, cancel := context.WithCancel(env.Ctx(env.Analyst()))
	st, err := callverifyv1.NewBlocklistServiceClient(env.Conn).ImportEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if err := st.Send(&callverifyv1.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: callverifyv1.Category_CATEGORY_SCAM}); err != nil {
			t.Fatal(err)
		}
	}
	waitForEntries(t, env, 1000)
	cancel()
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	deadline := time.Now().Add(10 * time.Second)
	var abort *callverifyv1.ListAuditEventsResponse
	for {
		abort, err = bl.ListAuditEvents(env.Ctx(env.Analyst()), &callverifyv1.ListAuditEventsRequest{Action: "entry.import.abort"})
		if err == nil && len(abort.GetEvents()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no abort record: %v, %v", abort, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	entries, recorded := countAfterRestart(t, env)
	if entries != 1000 || recorded != 1000 {
		t.Errorf("the store holds %d entries and its batch records %v created; want the committed batch's 1000 in both", entries, recorded)
	}
	a := abort.GetEvents()[0].GetAfter().GetFields()
	if a["imported"].GetNumberValue() != 1000 || a["dropped"].GetNumberValue()+a["imported"].GetNumberValue() > 1500 {
		t.Errorf("abort record = %v, want 1000 imported and the rest dropped", a)
	}
}
