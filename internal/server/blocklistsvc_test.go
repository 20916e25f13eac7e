package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/testenv"
)

// The blocklist as a new user meets it: an analyst blocks a number and a
// prefix over REST, and a customer's CheckCaller for a number in the range
// says KNOWN_FRAUD with the category and advice.
func TestBlocklistBlocksANumberAndAPrefixOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	an := env.Analyst()

	resp := env.Do("POST", "/v1/blocklist/entries", an, `{"pattern":"+86 170*","category":"CATEGORY_IMPERSONATION","reason":"fake customer service wave","confidence":90}`)
	if resp.Status != http.StatusOK {
		t.Fatalf("create prefix: %d %s", resp.Status, resp.Body)
	}
	var prefix callverifyv1.Entry
	resp.Into(t, &prefix)
	if prefix.GetPattern() != "+86170*" || prefix.GetKind() != callverifyv1.EntryKind_ENTRY_KIND_PREFIX ||
		prefix.GetCreateBy() != "analyst-1" || prefix.GetSource() != callverifyv1.Source_SOURCE_ANALYST || prefix.GetEntryId() == "" {
		t.Errorf("prefix entry = %v", &prefix)
	}
	resp = env.Do("POST", "/v1/blocklist/entries", an, map[string]any{"pattern": "138 0013 8000", "category": "CATEGORY_SCAM"})
	if resp.Status != http.StatusOK {
		t.Fatalf("create number: %d %s", resp.Status, resp.Body)
	}
	var exact callverifyv1.Entry
	resp.Into(t, &exact)
	if exact.GetPattern() != "+8613800138000" || exact.GetKind() != callverifyv1.EntryKind_ENTRY_KIND_EXACT {
		t.Errorf("exact entry = %v", &exact)
	}

	resp = env.Do("POST", "/v1/verify/caller", env.Customer("+8613912345678"), `{"callerNumber":"170 1234 5678"}`)
	if resp.Status != http.StatusOK {
		t.Fatalf("CheckCaller: %d %s", resp.Status, resp.Body)
	}
	var cc callverifyv1.CheckCallerResponse
	resp.Into(t, &cc)
	if cc.GetVerdict() != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD || cc.GetBlocklistCategory() != callverifyv1.Category_CATEGORY_IMPERSONATION ||
		len(cc.GetAdvice()) == 0 || cc.GetMessage() == "" {
		t.Errorf("CheckCaller = %v", &cc)
	}

	resp = env.Do("GET", "/v1/blocklist:check?number=%2B8617012345678", an, nil)
	var chk callverifyv1.CheckNumberResponse
	resp.Into(t, &chk)
	if !chk.GetBlocked() || chk.GetEntry().GetEntryId() != prefix.GetEntryId() || chk.GetNumber() != "+8617012345678" ||
		chk.GetEntry().GetReason() != "fake customer service wave" {
		t.Errorf("CheckNumber = %s", resp.Body)
	}

	// PATCH with a body only: the gateway derives the mask from the body.
	resp = env.Do("PATCH", "/v1/blocklist/entries/"+prefix.GetEntryId(), an, `{"reason":"wave of 2026-11"}`)
	var upd callverifyv1.Entry
	resp.Into(t, &upd)
	if upd.GetReason() != "wave of 2026-11" || upd.GetCategory() != callverifyv1.Category_CATEGORY_IMPERSONATION || upd.GetConfidence() != 90 {
		t.Errorf("PATCH reason: %d %s", resp.Status, resp.Body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"duplicate pattern", "POST", "/v1/blocklist/entries", `{"pattern":"+86170*","category":"CATEGORY_SCAM"}`, http.StatusConflict, prefix.GetEntryId()},
		{"prefix too short", "POST", "/v1/blocklist/entries", `{"pattern":"+8617*","category":"CATEGORY_SCAM"}`, http.StatusBadRequest, "at least 3 digits after the country code"},
		{"no category", "POST", "/v1/blocklist/entries", `{"pattern":"+8617112345678"}`, http.StatusBadRequest, "category is required"},
		{"unknown entry", "GET", "/v1/blocklist/entries/nope", "", http.StatusNotFound, "no such blocklist entry"},
		{"bad number to check", "GET", "/v1/blocklist:check?number=abc", "", http.StatusBadRequest, "number contains letters"},
		{"immutable field", "PATCH", "/v1/blocklist/entries/" + prefix.GetEntryId() + "?update_mask=create_by", `{"createBy":"me"}`, http.StatusBadRequest, "cannot be changed"},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		resp := env.Do(tc.method, tc.path, an, body)
		if resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, resp.Status, resp.Body, tc.status, tc.msg)
		}
	}

	if resp := env.Do("POST", "/v1/blocklist/entries", env.Customer("+8613912345678"), `{"pattern":"+86171*","category":"CATEGORY_SCAM"}`); resp.Status != http.StatusForbidden {
		t.Errorf("customer creates an entry: %d, want 403", resp.Status)
	}
	if resp := env.Do("POST", "/v1/blocklist/entries", env.Admin(), `{"pattern":"+86171*","category":"CATEGORY_SCAM"}`); resp.Status != http.StatusOK {
		t.Errorf("admin creates an entry: %d %s, want 200", resp.Status, resp.Body)
	}

	if resp := env.Do("DELETE", "/v1/blocklist/entries/"+exact.GetEntryId(), an, nil); resp.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", resp.Status, resp.Body)
	}
	resp = env.Do("POST", "/v1/verify/caller", env.Customer("+8613912345678"), `{"callerNumber":"13800138000"}`)
	resp.Into(t, &cc)
	if cc.GetVerdict() != callverifyv1.Verdict_VERDICT_UNKNOWN {
		t.Errorf("after delete CheckCaller = %v, want UNKNOWN", &cc)
	}

	// The index is rebuilt from the store at start.
	env.Restart()
	http.DefaultClient.CloseIdleConnections() // pooled connections went with the old server
	resp = env.Do("POST", "/v1/verify/number", "", `{"number":"+8617099990000"}`)
	var lk callverifyv1.LookupNumberResponse
	resp.Into(t, &lk)
	if lk.GetVerdict() != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD {
		t.Errorf("after restart LookupNumber = %s", resp.Body)
	}
}

func TestBlockingAnOfficialNumberIsRefusedBothWaysOverGRPC(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	adm := callverifyv1.NewAdminServiceClient(env.Conn)
	if _, err := adm.CreateOfficialNumber(env.Ctx(env.Admin()), &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
		Number: "95188", DisplayName: "Hotline", Direction: callverifyv1.Direction_DIRECTION_INBOUND_ONLY,
	}}); err != nil {
		t.Fatal(err)
	}
	_, err := bl.CreateEntry(env.Ctx(env.Analyst()), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{Pattern: "+86951*", Category: callverifyv1.Category_CATEGORY_SCAM}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "+8695188") {
		t.Errorf("prefix over an official number: %v, want FAILED_PRECONDITION naming +8695188", err)
	}
	if _, err := bl.CreateEntry(env.Ctx(env.Analyst()), &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{Pattern: "+86400800*", Category: callverifyv1.Category_CATEGORY_SCAM}}); err != nil {
		t.Fatal(err)
	}
	_, err = adm.CreateOfficialNumber(env.Ctx(env.Admin()), &callverifyv1.CreateOfficialNumberRequest{OfficialNumber: &callverifyv1.OfficialNumber{
		Number: "400-800-8888", DisplayName: "Sales", Direction: callverifyv1.Direction_DIRECTION_OUTBOUND,
	}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "+86400800*") {
		t.Errorf("official number under an entry: %v, want FAILED_PRECONDITION naming the entry", err)
	}
}

func TestListEntriesPagesAndFiltersOverGRPC(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	ctx := env.Ctx(env.Analyst())
	for i := range 7 {
		c := callverifyv1.Category_CATEGORY_SCAM
		if i%2 == 0 {
			c = callverifyv1.Category_CATEGORY_SPAM
		}
		if _, err := bl.CreateEntry(ctx, &callverifyv1.CreateEntryRequest{Entry: &callverifyv1.Entry{Pattern: fmt.Sprintf("+86170000000%02d", i), Category: c}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	tok := ""
	for range 10 {
		res, err := bl.ListEntries(ctx, &callverifyv1.ListEntriesRequest{PageSize: 2, PageToken: tok, Category: callverifyv1.Category_CATEGORY_SPAM})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetTotalSize() != 4 {
			t.Errorf("total_size = %d, want 4", res.GetTotalSize())
		}
		for _, e := range res.GetEntries() {
			got = append(got, e.GetPattern())
		}
		if tok = res.GetNextPageToken(); tok == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[+8617000000000 +8617000000002 +8617000000004 +8617000000006]" {
		t.Errorf("SPAM pages = %v", got)
	}
	// A masked update over gRPC.
	res, _ := bl.ListEntries(ctx, &callverifyv1.ListEntriesRequest{PageSize: 1})
	e := res.GetEntries()[0]
	upd, err := bl.UpdateEntry(ctx, &callverifyv1.UpdateEntryRequest{
		Entry:      &callverifyv1.Entry{EntryId: e.GetEntryId(), Category: callverifyv1.Category_CATEGORY_ROBOCALL, Reason: "ignored"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"category"}},
	})
	if err != nil || upd.GetCategory() != callverifyv1.Category_CATEGORY_ROBOCALL || upd.GetReason() != e.GetReason() {
		t.Errorf("UpdateEntry = %v, %v", upd, err)
	}
	if _, err := bl.ListEntries(ctx, &callverifyv1.ListEntriesRequest{PageToken: "!!"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad page token: %v", err)
	}
}

func importGRPC(t *testing.T, env *testenv.Env, rows []*callverifyv1.Entry) *callverifyv1.ImportEntriesResponse {
	t.Helper()
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	st, err := bl.ImportEntries(env.Ctx(env.Analyst()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := st.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportAndExportOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	var rows []*callverifyv1.Entry
	for i := range 2500 {
		rows = append(rows, &callverifyv1.Entry{Pattern: fmt.Sprintf("+86170%08d", i), Category: callverifyv1.Category_CATEGORY_SCAM, Confidence: 70})
	}
	rows = append(rows[:5], append([]*callverifyv1.Entry{{Pattern: "+86*", Category: callverifyv1.Category_CATEGORY_SCAM}}, rows[5:]...)...)
	res := importGRPC(t, env, rows)
	if res.GetImported() != 2500 || res.GetRejected() != 1 || len(res.GetErrors()) != 1 || res.GetErrors()[0].GetIndex() != 5 ||
		!strings.Contains(res.GetErrors()[0].GetMessage(), "pattern") {
		t.Fatalf("import = %v", res)
	}
	res = importGRPC(t, env, rows)
	if res.GetImported() != 0 || res.GetUpdated() != 2500 || res.GetRejected() != 1 {
		t.Errorf("re-import = imported %d updated %d rejected %d, want 0, 2500, 1", res.GetImported(), res.GetUpdated(), res.GetRejected())
	}

	// REST import takes newline-delimited JSON.
	ndjson := `{"pattern":"+86171*","category":"CATEGORY_SPAM"}
{"pattern":"not a number","category":"CATEGORY_SPAM"}
{"pattern":"+8613800138000","category":"CATEGORY_ROBOCALL","expireTime":"2027-01-01T00:00:00Z"}
`
	resp := env.Do("POST", "/v1/blocklist:import", env.Analyst(), ndjson)
	if resp.Status != http.StatusOK {
		t.Fatalf("REST import: %d %s", resp.Status, resp.Body)
	}
	var ir callverifyv1.ImportEntriesResponse
	resp.Into(t, &ir)
	if ir.GetImported() != 2 || ir.GetRejected() != 1 || ir.GetErrors()[0].GetIndex() != 1 {
		t.Errorf("REST import = %s", resp.Body)
	}

	// Export over gRPC sees every entry once.
	bl := callverifyv1.NewBlocklistServiceClient(env.Conn)
	st, err := bl.ExportEntries(env.Ctx(env.Analyst()), &callverifyv1.ExportEntriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for {
		e, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[e.GetPattern()] {
			t.Fatalf("exported %s twice", e.GetPattern())
		}
		seen[e.GetPattern()] = true
	}
	if len(seen) != 2502 {
		t.Errorf("gRPC export has %d entries, want 2502", len(seen))
	}

	// REST export is newline-delimited JSON, one entry per line.
	req, _ := http.NewRequest("GET", env.HTTPURL+"/v1/blocklist:export?category=CATEGORY_SPAM", nil)
	req.Header.Set("Authorization", "Bearer "+env.Analyst())
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	sc := bufio.NewScanner(hr.Body)
	var patterns []string
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e callverifyv1.Entry
		if err := protojson.Unmarshal(line, &e); err != nil {
			t.Fatalf("export line %q is not an Entry: %v", line, err)
		}
		patterns = append(patterns, e.GetPattern())
	}
	if fmt.Sprint(patterns) != "[+86171*]" {
		t.Errorf("REST export of SPAM = %v", patterns)
	}
	if got, want := hr.Header.Get("Content-Type"), "application/x-ndjson"; got != want {
		t.Errorf("export Content-Type = %q, want %q", got, want)
	}

	// A REST export imports back as it is: every line updates, none is new.
	full := env.Do("GET", "/v1/blocklist:export", env.Analyst(), nil)
	if full.Status != http.StatusOK {
		t.Fatalf("full export: %d %s", full.Status, full.Body)
	}
	back := env.Do("POST", "/v1/blocklist:import", env.Analyst(), full.Body)
	var br callverifyv1.ImportEntriesResponse
	back.Into(t, &br)
	if br.GetImported() != 0 || br.GetRejected() != 0 || br.GetUpdated() != int64(bytes.Count(full.Body, []byte("\n"))) {
		t.Errorf("re-import of the export: %s", back.Body)
	}
	for _, tc := range []struct {
		token, query string
		status       int
	}{
		{"", "", http.StatusUnauthorized},
		{env.Customer("+8613800138000"), "", http.StatusForbidden},
		{env.Analyst(), "?category=CATEGORY_NOPE", http.StatusBadRequest},
	} {
		if r := env.Do("GET", "/v1/blocklist:export"+tc.query, tc.token, nil); r.Status != tc.status {
			t.Errorf("export%s with token %.10q: status %d %s, want %d", tc.query, tc.token, r.Status, r.Body, tc.status)
		}
	}

	// Each import (three above, and the export's re-import) recorded each
	// batch with its commit; the first one's batches add up to its counts.
	resp = env.Do("GET", "/v1/audit-events?action=entry.import&page_size=100", env.Analyst(), nil)
	var ae callverifyv1.ListAuditEventsResponse
	resp.Into(t, &ae)
	ids := map[string]bool{}
	var created, invalid float64
	firstID := ae.GetEvents()[len(ae.GetEvents())-1].GetAfter().GetFields()["import_id"].GetStringValue()
	for _, ev := range ae.GetEvents() {
		f := ev.GetAfter().GetFields()
		ids[f["import_id"].GetStringValue()] = true
		if f["import_id"].GetStringValue() == firstID {
			created += f["created"].GetNumberValue()
			invalid += f["invalid"].GetNumberValue()
		}
	}
	if len(ids) != 4 || len(ae.GetEvents()) != 10 {
		t.Errorf("%d import events of %d imports, want 10 batches of 4 imports: %s", len(ae.GetEvents()), len(ids), resp.Body)
	}
	if created != 2500 || invalid != 1 {
		t.Errorf("the first import's batch events add up to %v created, %v invalid; want 2500 and 1", created, invalid)
	}
}

// Three customers report one number; the analyst sees them grouped and
// blocks it; the customer's check then says KNOWN_FRAUD; and every analyst
// step is in the audit log.
func TestReportsGroupAndResolveIntoABlockOverREST(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for i, note := range []string{"said he was customer service", "asked for a refund code", "wanted my bank card"} {
		resp := env.Do("POST", "/v1/reports", env.Customer(fmt.Sprintf("+86139000000%02d", i)),
			map[string]any{"callerNumber": "171 2345 6789", "note": note})
		if resp.Status != http.StatusOK {
			t.Fatalf("report %d: %d %s", i, resp.Status, resp.Body)
		}
		var r callverifyv1.Report
		resp.Into(t, &r)
		if r.GetReportId() == "" || r.GetCallerNumber() != "+8617123456789" || r.GetNote() != note {
			t.Errorf("report = %v", &r)
		}
	}
	// The first customer again: a fourth report, still three reporters.
	env.Do("POST", "/v1/reports", env.Customer("+8613900000000"), `{"callerNumber":"+8617123456789","note":"again"}`)
	env.Do("POST", "/v1/reports", env.Customer("+8613900000009"), `{"callerNumber":"+8613800138000"}`)

	if resp := env.Do("POST", "/v1/reports", env.Analyst(), `{"callerNumber":"+8613800138000"}`); resp.Status != http.StatusForbidden {
		t.Errorf("an analyst reports: %d, want 403", resp.Status)
	}
	if resp := env.Do("POST", "/v1/reports", env.Customer("+8613900000000"), map[string]any{"callerNumber": "+8613800138000", "note": strings.Repeat("x", 501)}); resp.Status != http.StatusBadRequest {
		t.Errorf("a 501-character note: %d, want 400", resp.Status)
	}

	resp := env.Do("GET", "/v1/reported-numbers?page_size=10", env.Analyst(), nil)
	var list callverifyv1.ListReportedNumbersResponse
	resp.Into(t, &list)
	if len(list.GetReportedNumbers()) != 2 {
		t.Fatalf("reported numbers: %s", resp.Body)
	}
	top := list.GetReportedNumbers()[0]
	if top.GetCallerNumber() != "+8617123456789" || top.GetReportCount() != 4 || top.GetDistinctReporters() != 3 ||
		top.GetStatus() != callverifyv1.ReportStatus_REPORT_STATUS_OPEN || len(top.GetNotes()) != 4 || top.GetNotes()[0] != "again" {
		t.Errorf("busiest = %v", top)
	}

	resp = env.Do("POST", "/v1/reported-numbers/%2B8617123456789:resolve", env.Analyst(),
		`{"action":"RESOLVE_ACTION_BLOCK","category":"CATEGORY_IMPERSONATION","reason":"three customers, same script"}`)
	if resp.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", resp.Status, resp.Body)
	}
	var rr callverifyv1.ResolveReportedNumberResponse
	resp.Into(t, &rr)
	if rr.GetReportedNumber().GetStatus() != callverifyv1.ReportStatus_REPORT_STATUS_BLOCKED ||
		rr.GetEntry().GetSource() != callverifyv1.Source_SOURCE_CUSTOMER_REPORTS || rr.GetEntry().GetPattern() != "+8617123456789" {
		t.Errorf("resolve = %s", resp.Body)
	}
	resp = env.Do("POST", "/v1/reported-numbers/%2B8613800138000:resolve", env.Analyst(), `{"action":"RESOLVE_ACTION_DISMISS"}`)
	if resp.Status != http.StatusOK {
		t.Errorf("dismiss: %d %s", resp.Status, resp.Body)
	}
	if resp := env.Do("POST", "/v1/reported-numbers/%2B8613800138000:resolve", env.Analyst(), `{"action":"RESOLVE_ACTION_DISMISS"}`); resp.Status != http.StatusBadRequest {
		t.Errorf("second dismiss: %d %s, want 400", resp.Status, resp.Body)
	}

	resp = env.Do("POST", "/v1/verify/caller", env.Customer("+8613900000005"), `{"callerNumber":"17123456789"}`)
	var cc callverifyv1.CheckCallerResponse
	resp.Into(t, &cc)
	if cc.GetVerdict() != callverifyv1.Verdict_VERDICT_KNOWN_FRAUD || cc.GetBlocklistCategory() != callverifyv1.Category_CATEGORY_IMPERSONATION {
		t.Errorf("CheckCaller after the block = %s", resp.Body)
	}

	resp = env.Do("GET", "/v1/audit-events", env.Analyst(), nil)
	var ae callverifyv1.ListAuditEventsResponse
	resp.Into(t, &ae)
	var actions []string
	for _, e := range ae.GetEvents() {
		actions = append(actions, e.GetAction()+"@"+e.GetActor()+"/"+e.GetRole())
		if strings.Contains(e.String(), "13900000") {
			t.Errorf("audit event names a reporting customer: %v", e)
		}
	}
	// Each report is recorded too, by the reporting customer masked.
	want := "[reported_number.dismiss@analyst-1/analyst reported_number.block@analyst-1/analyst " +
		"report.create@+86139****0009/customer report.create@+86139****0000/customer report.create@+86139****0002/customer " +
		"report.create@+86139****0001/customer report.create@+86139****0000/customer]"
	if got := fmt.Sprint(actions); got != want {
		t.Errorf("audit log = %s\nwant        %s", got, want)
	}
	block := ae.GetEvents()[1]
	if block.GetTarget() != "+8617123456789" || block.GetBefore().GetFields()["status"].GetStringValue() != "REPORT_STATUS_OPEN" ||
		block.GetAfter().GetFields()["entry"].GetStructValue().GetFields()["category"].GetStringValue() != "CATEGORY_IMPERSONATION" {
		t.Errorf("block event = %v", block)
	}
	// Paging the audit log.
	resp = env.Do("GET", "/v1/audit-events?page_size=1", env.Analyst(), nil)
	resp.Into(t, &ae)
	if len(ae.GetEvents()) != 1 || ae.GetNextPageToken() == "" {
		t.Fatalf("page 1: %s", resp.Body)
	}
	resp = env.Do("GET", "/v1/audit-events?page_size=1&page_token="+ae.GetNextPageToken(), env.Analyst(), nil)
	resp.Into(t, &ae)
	if len(ae.GetEvents()) != 1 || ae.GetEvents()[0].GetAction() != "reported_number.block" {
		t.Errorf("page 2: %s", resp.Body)
	}
	if resp := env.Do("GET", "/v1/audit-events", env.Customer("+8613900000005"), nil); resp.Status != http.StatusForbidden {
		t.Errorf("a customer reads the audit log: %d, want 403", resp.Status)
	}
}

// TestReporterStaysOneReporterAcrossRestarts: the pseudonym key is derived
// from the data directory's KEK, not made afresh at start, so a customer
// who reports a number again after a restart is still one reporter.
func TestReporterStaysOneReporterAcrossRestarts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	report := func() {
		t.Helper()
		resp := env.Do("POST", "/v1/reports", env.Customer("+8613900000001"), map[string]any{"callerNumber": "+8617123456789"})
		if resp.Status != http.StatusOK {
			t.Fatalf("report: %d %s", resp.Status, resp.Body)
		}
	}
	report()
	env.Restart()
	report()
	resp := env.Do("GET", "/v1/reported-numbers", env.Analyst(), nil)
	var list callverifyv1.ListReportedNumbersResponse
	resp.Into(t, &list)
	if len(list.GetReportedNumbers()) != 1 || list.GetReportedNumbers()[0].GetReportCount() != 2 || list.GetReportedNumbers()[0].GetDistinctReporters() != 1 {
		t.Errorf("after a restart = %s, want 2 reports by 1 customer", resp.Body)
	}
}
