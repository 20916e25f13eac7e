package blocklist_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

func TestCreateEntryNormalisesPatternsAndRefusesBadOnes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      blocklist.Entry
		pattern string // canonical; "" when refused
		kind    blocklist.Kind
		field   string // named in the refusal
	}{
		{"E.164 with spaces", blocklist.Entry{Pattern: "+86 138 0013 8000"}, "+8613800138000", blocklist.KindExact, ""},
		{"national mobile", blocklist.Entry{Pattern: "13800138000"}, "+8613800138000", blocklist.KindExact, ""},
		{"landline with area code", blocklist.Entry{Pattern: "0571-8888 1234"}, "+8657188881234", blocklist.KindExact, ""},
		{"service number", blocklist.Entry{Pattern: "95566"}, "+8695566", blocklist.KindExact, ""},
		{"prefix", blocklist.Entry{Pattern: "+86170*"}, "+86170*", blocklist.KindPrefix, ""},
		{"prefix with separators", blocklist.Entry{Pattern: " +86 (170) 1-*"}, "+861701*", blocklist.KindPrefix, ""},
		{"US prefix: 1-digit country code and 3 digits", blocklist.Entry{Pattern: "+1212*"}, "+1212*", blocklist.KindPrefix, ""},
		{"prefix of a whole country", blocklist.Entry{Pattern: "+86*"}, "", 0, "pattern"},
		{"prefix two digits short", blocklist.Entry{Pattern: "+8617*"}, "", 0, "pattern"},
		{"prefix without country code", blocklist.Entry{Pattern: "170*"}, "", 0, "pattern"},
		{"prefix with an unknown country code", blocklist.Entry{Pattern: "+999123*"}, "", 0, "pattern"},
		{"prefix with letters", blocklist.Entry{Pattern: "+86abc*"}, "", 0, "pattern"},
		{"prefix as long as a number", blocklist.Entry{Pattern: "+861380013800012*"}, "", 0, "pattern"},
		{"wildcard inside", blocklist.Entry{Pattern: "+86*170"}, "", 0, "pattern"},
		{"not a number", blocklist.Entry{Pattern: "hello"}, "", 0, "pattern"},
		{"empty pattern", blocklist.Entry{Pattern: ""}, "", 0, "pattern"},
		{"no category", blocklist.Entry{Pattern: "+8613800138000"}, "", 0, "category"},
		{"confidence over 100", blocklist.Entry{Pattern: "+8613800138000", Confidence: 101}, "", 0, "confidence"},
		{"negative confidence", blocklist.Entry{Pattern: "+8613800138000", Confidence: -1}, "", 0, "confidence"},
		{"reason too long", blocklist.Entry{Pattern: "+8613800138000", Reason: strings.Repeat("诈", 501)}, "", 0, "reason"},
		{"expiry in the past", blocklist.Entry{Pattern: "+8613800138000", ExpireTime: t0.Add(-time.Second)}, "", 0, "expire_time"},
		{"unknown source", blocklist.Entry{Pattern: "+8613800138000", Source: 9}, "", 0, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			in := tt.in
			if in.Category == blocklist.CategoryUnspecified && tt.field != "category" {
				in.Category = blocklist.CategoryScam
			}
			got, err := e.svc.CreateEntry(context.Background(), analyst, in)
			if tt.pattern == "" {
				wantFault(t, err, fault.ErrInvalidArgument, tt.field)
				if n, _ := e.store.CountEntries(context.Background(), blocklist.EntryFilter{}); n != 0 {
					t.Errorf("a refused entry was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Pattern != tt.pattern || got.Kind != tt.kind {
				t.Errorf("stored %s (%s), want %s (%s)", got.Pattern, got.Kind, tt.pattern, tt.kind)
			}
			if got.CreateBy != analyst.Subject || !got.CreateTime.Equal(t0) || !got.UpdateTime.Equal(t0) || got.Source != blocklist.SourceAnalyst {
				t.Errorf("stored %+v: want creator %s, times %v, source SOURCE_ANALYST", got, analyst.Subject, t0)
			}
		})
	}
}

func TestEntryMatchingOfficialNumberIsRefusedEitherWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateOfficialNumber(ctx, admin, "95188", blocklist.OfficialNumber{
		DisplayName: "Hotline", Direction: blocklist.DirectionInboundOnly,
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"95188", "+8695188", "+86951*"} {
		_, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: p, Category: blocklist.CategoryScam})
		wantFault(t, err, fault.ErrFailedPrecondition, "+8695188")
	}
	// The other way round: an official number under an active entry.
	e.create(t, "+86400800*", blocklist.CategoryImpersonation)
	_, err := e.svc.CreateOfficialNumber(ctx, admin, "400-800-8888", blocklist.OfficialNumber{
		DisplayName: "Sales", Direction: blocklist.DirectionOutbound,
	})
	wantFault(t, err, fault.ErrFailedPrecondition, "+86400800*")

	// A prefix that stops short of the official number is fine, and so is
	// a pattern change that keeps clear of it; one that moves onto it is not.
	ok := e.create(t, "+86952*", blocklist.CategoryScam)
	_, err = e.svc.UpdateEntry(ctx, analyst, ok.ID, blocklist.Entry{Pattern: "+86951*"}, []string{"pattern"})
	wantFault(t, err, fault.ErrFailedPrecondition, "+8695188")
	if _, err := e.svc.UpdateEntry(ctx, analyst, ok.ID, blocklist.Entry{Pattern: "+86953*"}, []string{"pattern"}); err != nil {
		t.Errorf("moving the prefix elsewhere: %v", err)
	}
}

func TestMatchFollowsEveryWriteAndTheClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if _, ok := e.svc.Match("+8617012345678"); ok {
		t.Fatal("empty blocklist matched")
	}
	prefix := e.create(t, "+86170*", blocklist.CategorySpam)
	exact := e.create(t, "+8617012345678", blocklist.CategoryImpersonation)
	check := func(n phone.Number, want string) {
		t.Helper()
		got, ok := e.svc.Match(n)
		switch {
		case want == "" && ok:
			t.Errorf("Match(%s) = %s, want no match", n, got.Pattern)
		case want != "" && (!ok || got.Pattern != want):
			t.Errorf("Match(%s) = %q %v, want %s", n, got.Pattern, ok, want)
		}
	}
	check("+8617012345678", "+8617012345678")
	check("+8617012345679", "+86170*")
	if got, _ := e.svc.Match("+8617012345678"); got.Category.String() != "CATEGORY_IMPERSONATION" {
		t.Errorf("category name = %s, want CATEGORY_IMPERSONATION", got.Category)
	}

	// Update: the prefix expires in an hour.
	if _, err := e.svc.UpdateEntry(ctx, analyst, prefix.ID, blocklist.Entry{ExpireTime: t0.Add(time.Hour)}, []string{"expire_time"}); err != nil {
		t.Fatal(err)
	}
	check("+8617012345679", "+86170*")
	e.clock.Advance(time.Hour)
	check("+8617012345679", "")
	check("+8617012345678", "+8617012345678")

	// Delete.
	if err := e.svc.DeleteEntry(ctx, analyst, exact.ID); err != nil {
		t.Fatal(err)
	}
	check("+8617012345678", "")

	// A new service over the same store builds its index from a full scan.
	e.create(t, "+8613800138000", blocklist.CategoryScam)
	again, err := blocklist.NewService(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, ok := again.Match("+8613800138000"); !ok || got.Category != blocklist.CategoryScam {
		t.Errorf("restarted service: Match = %+v %v, want the scam entry", got, ok)
	}
	if again.Index().Seq() != e.svc.Index().Seq() {
		t.Errorf("restarted index at change %d, the running one at %d", again.Index().Seq(), e.svc.Index().Seq())
	}
}

func TestMatchStringTakesCanonicalAndWrittenForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create(t, "+8613800138000", blocklist.CategoryScam)
	for _, raw := range []string{"+8613800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000"} {
		got, ok, err := e.svc.MatchString(raw)
		if err != nil || !ok || got.Pattern != "+8613800138000" {
			t.Errorf("MatchString(%q) = %+v %v %v", raw, got, ok, err)
		}
	}
	if _, _, err := e.svc.MatchString("not a number"); err == nil {
		t.Error("MatchString of garbage: no error")
	}
}

func TestUpdateEntryChangesOnlyTheMaskedFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	orig, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{
		Pattern: "+8613800138000", Category: blocklist.CategoryScam, Reason: "first", Confidence: 50,
		ExpireTime: t0.Add(48 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	patch := blocklist.Entry{Pattern: "+8699999", Category: blocklist.CategorySpam, Reason: "second", Confidence: 70}
	got, err := e.svc.UpdateEntry(ctx, analyst, orig.ID, patch, []string{"reason", "confidence"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "second" || got.Confidence != 70 || got.Category != blocklist.CategoryScam ||
		got.Pattern != orig.Pattern || !got.ExpireTime.Equal(orig.ExpireTime) {
		t.Errorf("masked update stored %+v", got)
	}
	if !got.UpdateTime.Equal(t0.Add(time.Minute)) || !got.CreateTime.Equal(t0) {
		t.Errorf("times = create %v update %v", got.CreateTime, got.UpdateTime)
	}
	// camelCase paths, as a REST client may send.
	got, err = e.svc.UpdateEntry(ctx, analyst, orig.ID, blocklist.Entry{}, []string{"expireTime"})
	if err != nil || !got.ExpireTime.IsZero() {
		t.Errorf("clearing expireTime = %+v, %v", got, err)
	}
	// An empty mask replaces every mutable field: category is then required.
	_, err = e.svc.UpdateEntry(ctx, analyst, orig.ID, blocklist.Entry{Pattern: "+8613800138000"}, nil)
	wantFault(t, err, fault.ErrInvalidArgument, "category")

	for _, tt := range []struct {
		mask []string
		frag string
	}{
		{[]string{"create_by"}, "create_by"},
		{[]string{"kind"}, "kind"},
		{[]string{"entry_id"}, "entry_id"},
		{[]string{"colour"}, "colour"},
	} {
		_, err := e.svc.UpdateEntry(ctx, analyst, orig.ID, patch, tt.mask)
		wantFault(t, err, fault.ErrInvalidArgument, tt.frag)
	}
	_, err = e.svc.UpdateEntry(ctx, analyst, "no-such", patch, []string{"reason"})
	wantFault(t, err, fault.ErrNotFound, "")

	// An update that changes nothing records nothing.
	before := len(e.events(t, "entry.update"))
	if _, err := e.svc.UpdateEntry(ctx, analyst, orig.ID, blocklist.Entry{Reason: "second"}, []string{"reason"}); err != nil {
		t.Fatal(err)
	}
	if after := len(e.events(t, "entry.update")); after != before {
		t.Errorf("a no-op update recorded %d audit events", after-before)
	}
}

func TestUpdateEntryKeepsAnExpiredEntryEditable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	en, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: "+86170*", Category: blocklist.CategorySpam, ExpireTime: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.svc.UpdateEntry(ctx, analyst, en.ID, blocklist.Entry{Reason: "note"}, []string{"reason"}); err != nil {
		t.Errorf("editing the reason of an expired entry: %v", err)
	}
	_, err = e.svc.UpdateEntry(ctx, analyst, en.ID, blocklist.Entry{ExpireTime: t0}, []string{"expire_time"})
	wantFault(t, err, fault.ErrInvalidArgument, "expire_time")
}

func TestDuplicatePatternIsAlreadyExistsNamingTheEntry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.create(t, "+86170*", blocklist.CategorySpam)
	_, err := e.svc.CreateEntry(context.Background(), analyst, blocklist.Entry{Pattern: "+86 170*", Category: blocklist.CategoryScam})
	wantFault(t, err, fault.ErrAlreadyExists, first.ID)
}

func TestListEntriesPagesFiltersAndCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for i := range 12 {
		c := blocklist.CategoryScam
		if i%3 == 0 {
			c = blocklist.CategorySpam
		}
		e.create(t, fmt.Sprintf("+861380013%04d", i), c)
	}
	var got []string
	tok := ""
	for {
		page, next, total, err := e.svc.ListEntries(ctx, blocklist.EntryFilter{Category: blocklist.CategoryScam}, 3, tok)
		if err != nil {
			t.Fatal(err)
		}
		if total != 8 {
			t.Errorf("total_size = %d, want 8", total)
		}
		for _, en := range page {
			got = append(got, en.Pattern)
		}
		if next == "" {
			break
		}
		tok = next
	}
	if len(got) != 8 {
		t.Errorf("paged through %d SCAM entries, want 8: %v", len(got), got)
	}
	_, _, _, err := e.svc.ListEntries(ctx, blocklist.EntryFilter{}, 10, "%%%")
	wantFault(t, err, fault.ErrInvalidArgument, "page_token")
	_, _, _, err = e.svc.ListEntries(ctx, blocklist.EntryFilter{Category: 42}, 10, "")
	wantFault(t, err, fault.ErrInvalidArgument, "category")
	_, _, _, err = e.svc.ListEntries(ctx, blocklist.EntryFilter{}, -1, "")
	wantFault(t, err, fault.ErrInvalidArgument, "page_size")
}

func TestCheckNumberReturnsTheWholeEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	en, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: "+86170*", Category: blocklist.CategorySpam, Reason: "virtual operator range"})
	if err != nil {
		t.Fatal(err)
	}
	n, got, ok, err := e.svc.CheckNumber(ctx, "170 1234 5678")
	if err != nil || !ok || n != "+8617012345678" {
		t.Fatalf("CheckNumber = %s %v %v", n, ok, err)
	}
	if got.ID != en.ID || got.Reason != "virtual operator range" || got.CreateBy != analyst.Subject {
		t.Errorf("CheckNumber entry = %+v, want the stored %+v", got, en)
	}
	if _, _, ok, _ := e.svc.CheckNumber(ctx, "13800138000"); ok {
		t.Error("an unlisted number is blocked")
	}
	_, _, _, err = e.svc.CheckNumber(ctx, "12")
	wantFault(t, err, fault.ErrInvalidArgument, "number")
}

func TestEntryMutationsAreAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	en := e.create(t, "+86170*", blocklist.CategorySpam)
	if _, err := e.svc.UpdateEntry(ctx, analyst, en.ID, blocklist.Entry{Category: blocklist.CategoryScam}, []string{"category"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteEntry(ctx, analyst, en.ID); err != nil {
		t.Fatal(err)
	}
	evs, next, err := e.svc.ListAuditEvents(ctx, auditFilter("", ""), 10, "")
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Action)
		if ev.Actor != analyst.Subject || ev.Role != analyst.Role || ev.Target != en.ID {
			t.Errorf("event %+v: want actor %s role %s target %s", ev, analyst.Subject, analyst.Role, en.ID)
		}
	}
	if fmt.Sprint(got) != "[entry.delete entry.update entry.create]" {
		t.Errorf("events newest first = %v", got)
	}
	upd := evs[1]
	if upd.Before["category"] != "CATEGORY_SPAM" || upd.After["category"] != "CATEGORY_SCAM" {
		t.Errorf("update before/after = %v / %v", upd.Before, upd.After)
	}
	if evs[0].After != nil || evs[0].Before["pattern"] != "+86170*" {
		t.Errorf("delete before/after = %v / %v", evs[0].Before, evs[0].After)
	}
	// Paging and filters.
	page, tok, err := e.svc.ListAuditEvents(ctx, auditFilter("", ""), 2, "")
	if err != nil || len(page) != 2 || tok == "" {
		t.Fatalf("first page: %d events, token %q, %v", len(page), tok, err)
	}
	page, tok, err = e.svc.ListAuditEvents(ctx, auditFilter("", ""), 2, tok)
	if err != nil || len(page) != 1 || page[0].Action != "entry.create" || tok != "" {
		t.Errorf("second page = %v, token %q, %v", page, tok, err)
	}
	if page, _, _ := e.svc.ListAuditEvents(ctx, auditFilter("", "entry.update"), 10, ""); len(page) != 1 {
		t.Errorf("filter on action listed %d events, want 1", len(page))
	}
	if page, _, _ := e.svc.ListAuditEvents(ctx, auditFilter("someone-else", ""), 10, ""); len(page) != 0 {
		t.Errorf("filter on another actor listed %d events, want 0", len(page))
	}
}

// TestConcurrentWritesAndMatches runs writers and readers together under
// the race detector and checks that the index ends in step with the store.
func TestConcurrentWritesAndMatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					e.svc.Match("+8613800138001")
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 10 {
				en, err := e.svc.CreateEntry(ctx, analyst, blocklist.Entry{Pattern: fmt.Sprintf("+86138001380%d%d", w, i), Category: blocklist.CategoryScam})
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if err := e.svc.DeleteEntry(ctx, analyst, en.ID); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if got := e.svc.Index().Len(); got != 20 {
		t.Errorf("index holds %d entries, want 20", got)
	}
	if got := e.svc.Index().OutOfOrder(); got != 0 {
		t.Errorf("index saw %d changes out of order", got)
	}
	for w := range 4 {
		for i := range 10 {
			_, ok := e.svc.Match(phone.Number(fmt.Sprintf("+86138001380%d%d", w, i)))
			if ok != (i%2 == 1) {
				t.Errorf("writer %d entry %d: matched %v", w, i, ok)
			}
		}
	}
}

func TestListEntriesWithPrefixPagesThroughExactlyThePatternsThatStartWithIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	in := []string{"+86170*", "+8617012345678", "+8617099990000", "+86170123*", "+8617112345678", "+8613912345678", "+86171*"}
	for _, p := range in {
		e.create(t, p, blocklist.CategoryScam)
	}
	e.create(t, "+8617055550000", blocklist.CategorySpam)
	for _, tc := range []struct {
		prefix string
		f      blocklist.EntryFilter
		want   []string
	}{
		{"+86170", blocklist.EntryFilter{}, []string{"+86170*", "+86170123*", "+8617012345678", "+8617055550000", "+8617099990000"}},
		{"+86170*", blocklist.EntryFilter{Category: blocklist.CategoryScam}, []string{"+86170*", "+86170123*", "+8617012345678", "+8617099990000"}},
		{"86171", blocklist.EntryFilter{}, []string{"+86171*", "+8617112345678"}},
		{"+8617", blocklist.EntryFilter{}, []string{"+86170*", "+86170123*", "+8617012345678", "+8617055550000", "+8617099990000", "+86171*", "+8617112345678"}},
		{"+86172", blocklist.EntryFilter{}, nil},
		// A whole pattern is its own prefix: it is listed, not skipped.
		{"+8617012345678", blocklist.EntryFilter{}, []string{"+8617012345678"}},
	} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			page, next, err := e.svc.ListEntriesWithPrefix(ctx, tc.f, tc.prefix, 2, tok)
			if err != nil {
				t.Fatalf("%s: %v", tc.prefix, err)
			}
			for _, en := range page {
				got = append(got, en.Pattern)
			}
			if next == "" {
				break
			}
			if pages > 10 {
				t.Fatalf("%s: more than 10 pages", tc.prefix)
			}
			tok = next
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("prefix %q, filter %+v: listed %v, want %v", tc.prefix, tc.f, got, tc.want)
		}
	}
	_, _, err := e.svc.ListEntriesWithPrefix(ctx, blocklist.EntryFilter{}, "+86abc", 10, "")
	wantFault(t, err, fault.ErrInvalidArgument, "pattern_prefix")
}
