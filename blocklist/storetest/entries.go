package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

func entry(pattern string, c blocklist.Category) blocklist.Entry {
	k := blocklist.KindExact
	if pattern[len(pattern)-1] == '*' {
		k = blocklist.KindPrefix
	}
	return blocklist.Entry{
		Pattern: pattern, Kind: k, Category: c, Reason: "reason " + pattern, Source: blocklist.SourceAnalyst,
		Confidence: 80, CreateBy: "analyst-1", CreateTime: t0, UpdateTime: t0,
	}
}

func mustCreate(t *testing.T, s blocklist.Store, e blocklist.Entry) blocklist.Entry {
	t.Helper()
	got, _, err := s.CreateEntry(context.Background(), e, t0, ev("entry.create"))
	if err != nil {
		t.Fatalf("CreateEntry %s: %v", e.Pattern, err)
	}
	return got
}

// same compares what a store must keep of an entry.
func same(a, b blocklist.Entry) bool {
	return a.ID == b.ID && a.SameContent(b) && a.CreateBy == b.CreateBy &&
		a.CreateTime.Equal(b.CreateTime) && a.UpdateTime.Equal(b.UpdateTime) && a.Rev == b.Rev
}

func testEntries(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	e := entry("+8613800138000", blocklist.CategoryScam)
	e.ExpireTime = t0.Add(24 * time.Hour)
	got, c, err := s.CreateEntry(ctx, e, t0, ev("entry.create"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.Rev == 0 {
		t.Fatalf("CreateEntry returned ID %q Rev %d, want both set", got.ID, got.Rev)
	}
	if c.Op != blocklist.ChangePut || c.Seq != got.Rev || !same(c.Entry, got) {
		t.Errorf("CreateEntry change = %+v, want a put at Seq = Rev %d carrying the entry", c, got.Rev)
	}
	if !got.SameContent(e) {
		t.Errorf("CreateEntry stored %+v, want %+v", got, e)
	}
	if _, _, err := s.CreateEntry(ctx, entry("+8613800138000", blocklist.CategorySpam), t0, ev("entry.create")); !errors.Is(err, fault.ErrAlreadyExists) {
		t.Errorf("second entry with the same pattern: err = %v, want ErrAlreadyExists", err)
	}
	byID, err := s.GetEntry(ctx, got.ID)
	if err != nil || !same(byID, got) {
		t.Errorf("GetEntry = %+v, %v; want %+v", byID, err, got)
	}
	byPattern, err := s.GetEntryByPattern(ctx, e.Pattern)
	if err != nil || !same(byPattern, got) {
		t.Errorf("GetEntryByPattern = %+v, %v; want %+v", byPattern, err, got)
	}
	other := mustCreate(t, s, entry("+86170*", blocklist.CategorySpam))
	if other.ID == got.ID {
		t.Errorf("two entries got the same ID %s", got.ID)
	}
	old, dc, err := s.DeleteEntry(ctx, got.ID, ev("entry.delete"))
	if err != nil || !same(old, got) {
		t.Fatalf("DeleteEntry = %+v, %v; want %+v", old, err, got)
	}
	if dc.Op != blocklist.ChangeDelete || dc.Entry.Pattern != got.Pattern || dc.Seq <= other.Rev {
		t.Errorf("DeleteEntry change = %+v, want a delete of %s after seq %d", dc, got.Pattern, other.Rev)
	}
	for name, err := range map[string]error{
		"GetEntry of a deleted entry":          func() error { _, err := s.GetEntry(ctx, got.ID); return err }(),
		"GetEntryByPattern of a deleted entry": func() error { _, err := s.GetEntryByPattern(ctx, got.Pattern); return err }(),
		"second DeleteEntry":                   func() error { _, _, err := s.DeleteEntry(ctx, got.ID, ev("entry.delete")); return err }(),
		"GetEntry of an unknown ID":            func() error { _, err := s.GetEntry(ctx, "no-such-id"); return err }(),
	} {
		if !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	// The pattern is free again.
	again := mustCreate(t, s, entry("+8613800138000", blocklist.CategoryRobocall))
	if again.ID == got.ID {
		t.Errorf("a new entry reused the deleted entry's ID %s", got.ID)
	}
}

func testEntryUpdate(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	e := mustCreate(t, s, entry("+8613800138000", blocklist.CategoryScam))
	mustCreate(t, s, entry("+8613900139000", blocklist.CategoryScam))
	t1 := t0.Add(time.Hour)

	next := e
	next.Category, next.Reason, next.Confidence, next.UpdateTime = blocklist.CategorySpam, "changed", 55, t1
	next.CreateBy, next.CreateTime = "someone-else", t1 // must be ignored
	got, chs, err := s.UpdateEntry(ctx, next, e.Rev, t1, ev("entry.update"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Category != blocklist.CategorySpam || got.Reason != "changed" || got.Confidence != 55 || !got.UpdateTime.Equal(t1) {
		t.Errorf("UpdateEntry stored %+v", got)
	}
	if got.CreateBy != e.CreateBy || !got.CreateTime.Equal(e.CreateTime) || got.ID != e.ID {
		t.Errorf("UpdateEntry changed identity or authorship: %+v, was %+v", got, e)
	}
	if len(chs) != 1 || chs[0].Op != blocklist.ChangePut || chs[0].Seq != got.Rev || got.Rev <= e.Rev {
		t.Errorf("UpdateEntry changes = %+v (rev %d -> %d), want one put at the new Rev", chs, e.Rev, got.Rev)
	}
	// The old revision lost.
	if _, _, err := s.UpdateEntry(ctx, next, e.Rev, t1, ev("entry.update")); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("UpdateEntry at a stale revision: err = %v, want ErrConflict", err)
	}
	// A pattern another entry holds.
	taken := got
	taken.Pattern = "+8613900139000"
	if _, _, err := s.UpdateEntry(ctx, taken, got.Rev, t1, ev("entry.update")); !errors.Is(err, fault.ErrAlreadyExists) {
		t.Errorf("UpdateEntry to a taken pattern: err = %v, want ErrAlreadyExists", err)
	}
	// A free pattern: a delete of the old and a put of the new.
	moved := got
	moved.Pattern, moved.Kind = "+86171*", blocklist.KindPrefix
	got2, chs, err := s.UpdateEntry(ctx, moved, got.Rev, t1, ev("entry.update"))
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 || chs[0].Op != blocklist.ChangeDelete || chs[0].Entry.Pattern != "+8613800138000" ||
		chs[1].Op != blocklist.ChangePut || chs[1].Entry.Pattern != "+86171*" || chs[1].Seq != chs[0].Seq+1 {
		t.Errorf("pattern change made changes %+v, want delete +8613800138000 then put +86171*", chs)
	}
	if got2.ID != e.ID {
		t.Errorf("pattern change gave a new ID %s, want %s", got2.ID, e.ID)
	}
	if _, err := s.GetEntryByPattern(ctx, "+8613800138000"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("old pattern still found after the move: %v", err)
	}
	if byID, err := s.GetEntry(ctx, e.ID); err != nil || byID.Pattern != "+86171*" {
		t.Errorf("GetEntry after the move = %+v, %v", byID, err)
	}
	if _, _, err := s.DeleteEntry(ctx, e.ID, ev("entry.delete")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateEntry(ctx, got2, got2.Rev, t1, ev("entry.update")); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("UpdateEntry of a deleted entry: err = %v, want ErrNotFound", err)
	}
}

func testEntryChanges(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	seq0, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	a, c, _ := s.CreateEntry(ctx, entry("+8613800138000", blocklist.CategoryScam), t0, ev("entry.create"))
	seqs = append(seqs, c.Seq)
	_, c, _ = s.CreateEntry(ctx, entry("+86170*", blocklist.CategoryScam), t0, ev("entry.create"))
	seqs = append(seqs, c.Seq)
	upd := a
	upd.Reason = "new"
	_, chs, _ := s.UpdateEntry(ctx, upd, a.Rev, t0, ev("entry.update"))
	for _, c := range chs {
		seqs = append(seqs, c.Seq)
	}
	_, c, _ = s.DeleteEntry(ctx, a.ID, ev("entry.delete"))
	seqs = append(seqs, c.Seq)
	for i, sq := range seqs {
		if sq != seq0+uint64(i)+1 {
			t.Fatalf("change sequence numbers %v after %d, want consecutive", seqs, seq0)
		}
	}
	var scanned []string
	seq, err := s.ScanEntries(ctx, func(e blocklist.Entry) error { scanned = append(scanned, e.Pattern); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if seq != seqs[len(seqs)-1] {
		t.Errorf("ScanEntries seq = %d, want the last change %d", seq, seqs[len(seqs)-1])
	}
	if fmt.Sprint(scanned) != "[+86170*]" {
		t.Errorf("ScanEntries saw %v, want [+86170*]", scanned)
	}
	stop := errors.New("stop")
	if _, err := s.ScanEntries(ctx, func(blocklist.Entry) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ScanEntries did not return fn's error: %v", err)
	}
	// A refused write consumes no sequence number.
	if _, _, err := s.CreateEntry(ctx, entry("+86170*", blocklist.CategoryScam), t0, ev("entry.create")); err == nil {
		t.Fatal("duplicate create succeeded")
	}
	_, c, _ = s.CreateEntry(ctx, entry("+86172*", blocklist.CategoryScam), t0, ev("entry.create"))
	if c.Seq != seq+1 {
		t.Errorf("after a refused write the next change is %d, want %d", c.Seq, seq+1)
	}
}

func testEntryList(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	var want []string
	for i := range 25 {
		e := entry(fmt.Sprintf("+86138001380%02d", i), blocklist.Category(1+i%5))
		if i%3 == 0 {
			e.Source = blocklist.SourceImport
		}
		mustCreate(t, s, e)
		want = append(want, e.Pattern)
	}
	var got []string
	after := ""
	for {
		page, err := s.ListEntries(ctx, blocklist.EntryFilter{}, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.Pattern)
		}
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].Pattern
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paging saw %v, want %v", got, want)
	}
	f := blocklist.EntryFilter{Category: blocklist.CategoryScam, Source: blocklist.SourceImport}
	page, err := s.ListEntries(ctx, f, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	wantN := 0
	for i := range 25 {
		if 1+i%5 == int(blocklist.CategoryScam) && i%3 == 0 {
			wantN++
		}
	}
	for _, e := range page {
		if !f.Match(e) {
			t.Errorf("filter %+v listed %+v", f, e)
		}
	}
	if len(page) != wantN {
		t.Errorf("filter %+v listed %d entries, want %d", f, len(page), wantN)
	}
	for _, tt := range []struct {
		f    blocklist.EntryFilter
		want int
	}{
		{blocklist.EntryFilter{}, 25},
		{blocklist.EntryFilter{Category: blocklist.CategoryScam}, 5},
		{blocklist.EntryFilter{Source: blocklist.SourceImport}, 9},
		{f, wantN},
	} {
		if n, err := s.CountEntries(ctx, tt.f); err != nil || n != tt.want {
			t.Errorf("CountEntries(%+v) = %d, %v; want %d", tt.f, n, err, tt.want)
		}
	}
	// Counts follow updates and deletes.
	first, _ := s.GetEntryByPattern(ctx, want[0]) // IMPERSONATION, IMPORT
	upd := first
	upd.Category, upd.Source = blocklist.CategoryScam, blocklist.SourceAnalyst
	if _, _, err := s.UpdateEntry(ctx, upd, first.Rev, t0, ev("entry.update")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{Category: blocklist.CategoryScam}); n != 6 {
		t.Errorf("after moving an entry into SCAM the count is %d, want 6", n)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{Source: blocklist.SourceImport}); n != 8 {
		t.Errorf("after moving an entry out of IMPORT the count is %d, want 8", n)
	}
	if _, _, err := s.DeleteEntry(ctx, first.ID, ev("entry.delete")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{}); n != 24 {
		t.Errorf("after a delete the count is %d, want 24", n)
	}
}

func testEntryOfficialConflicts(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOfficialNumber(ctx, official("+8640080088881", blocklist.DirectionOutbound), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	expired := entry("+86400800*", blocklist.CategoryScam)
	expired.ExpireTime = later
	for _, tt := range []struct {
		name    string
		e       blocklist.Entry
		now     time.Time
		blocked phone.Number // "" when the create must succeed
	}{
		{"exact official number", entry("+8695188", blocklist.CategoryScam), t0, "+8695188"},
		{"prefix covering an official number", entry("+86400800*", blocklist.CategoryScam), t0, "+8640080088881"},
		{"prefix equal to an official number", entry("+8640080088881*", blocklist.CategoryScam), t0, "+8640080088881"},
		{"prefix next to an official number", entry("+86400801*", blocklist.CategoryScam), t0, ""},
		{"number sharing a prefix with an official number", entry("+8640080088882", blocklist.CategoryScam), t0, ""},
		{"entry already expired at now", expired, later, ""},
	} {
		_, _, err := s.CreateEntry(ctx, tt.e, tt.now, ev("entry.create"))
		if tt.blocked == "" {
			if err != nil {
				t.Errorf("%s: CreateEntry: %v", tt.name, err)
			}
			continue
		}
		var c *blocklist.ConflictError
		if !errors.As(err, &c) || c.Number != tt.blocked || !errors.Is(err, fault.ErrConflict) {
			t.Errorf("%s: err = %v, want a ConflictError naming %s", tt.name, err, tt.blocked)
		}
		if _, err := s.GetEntryByPattern(ctx, tt.e.Pattern); !errors.Is(err, fault.ErrNotFound) {
			t.Errorf("%s: the refused entry was stored (%v)", tt.name, err)
		}
	}

	// Updates: a pattern moved onto an official number, and an expired
	// entry made active again, are refused; the stored entry is unchanged.
	e, _ := s.GetEntryByPattern(ctx, "+86400801*")
	moved := e
	moved.Pattern = "+8640080*"
	if _, _, err := s.UpdateEntry(ctx, moved, e.Rev, t0, ev("entry.update")); !isConflict(err, "+8640080088881") {
		t.Errorf("moving a prefix over an official number: err = %v, want ConflictError", err)
	}
	exp, _ := s.GetEntryByPattern(ctx, "+86400800*")
	revive := exp
	revive.ExpireTime = time.Time{}
	if _, _, err := s.UpdateEntry(ctx, revive, exp.Rev, later, ev("entry.update")); !isConflict(err, "+8640080088881") {
		t.Errorf("reviving an expired entry over an official number: err = %v, want ConflictError", err)
	}
	if now, _ := s.GetEntryByPattern(ctx, "+86400800*"); !now.ExpireTime.Equal(later) {
		t.Errorf("the refused update changed the entry: %+v", now)
	}

	// Official numbers: refused while an active entry matches them, exact or
	// by any prefix; an expired entry does not stand in the way.
	for _, tt := range []struct {
		number  string
		now     time.Time
		pattern string // the entry that blocks it, "" when it may register
	}{
		{"+8640080199999", t0, "+86400801*"},
		{"+8640080088882", t0, "+8640080088882"},
		{"+8640080012345", t0, "+86400800*"}, // +86400800* is active until later
		{"+8640080012345", later, ""},
	} {
		_, err := s.CreateOfficialNumber(ctx, official(tt.number, blocklist.DirectionBoth), tt.now, officialEvent("official_number.create"))
		if tt.pattern == "" {
			if err != nil {
				t.Errorf("official %s at %v: %v", tt.number, tt.now, err)
			}
			continue
		}
		var c *blocklist.ConflictError
		if !errors.As(err, &c) || c.Pattern != tt.pattern || c.EntryID == "" || c.Number != phone.Number(tt.number) {
			t.Errorf("official %s: err = %v, want a ConflictError naming entry %s", tt.number, err, tt.pattern)
		}
	}
}

func isConflict(err error, official phone.Number) bool {
	var c *blocklist.ConflictError
	return errors.As(err, &c) && c.Number == official
}

// testEntryOfficialConcurrent races an official number against an entry
// that would match it: exactly one of them may win, every time.
func testEntryOfficialConcurrent(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	for i := range 20 {
		num := phone.Number(fmt.Sprintf("+86400%03d12345", i))
		pattern := string(num)
		if i%2 == 1 {
			pattern = fmt.Sprintf("+86400%03d1*", i)
		}
		var wg sync.WaitGroup
		var oerr, eerr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, oerr = s.CreateOfficialNumber(ctx, official(string(num), blocklist.DirectionBoth), t0, officialEvent("official_number.create"))
		}()
		go func() {
			defer wg.Done()
			_, _, eerr = s.CreateEntry(ctx, entry(pattern, blocklist.CategoryScam), t0, ev("entry.create"))
		}()
		wg.Wait()
		if (oerr == nil) == (eerr == nil) {
			t.Fatalf("round %d: official err = %v, entry err = %v; want exactly one to succeed", i, oerr, eerr)
		}
		for _, err := range []error{oerr, eerr} {
			var c *blocklist.ConflictError
			if err != nil && !errors.As(err, &c) {
				t.Fatalf("round %d: loser failed with %v, want a ConflictError", i, err)
			}
		}
	}
}

func testEntryConcurrentCreate(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.CreateEntry(ctx, entry("+86170*", blocklist.CategoryScam), t0, ev("entry.create"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, fault.ErrAlreadyExists):
			t.Errorf("concurrent create: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent creates of one pattern succeeded, want 1", ok)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{}); n != 1 {
		t.Errorf("CountEntries = %d after concurrent creates, want 1", n)
	}
}

func testEntryConcurrentUpdate(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	e := mustCreate(t, s, entry("+86170*", blocklist.CategoryScam))
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := e
			next.Reason = fmt.Sprint("writer ", i)
			_, _, err := s.UpdateEntry(ctx, next, e.Rev, t0, ev("entry.update"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, fault.ErrConflict):
			t.Errorf("concurrent update: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent updates from one revision succeeded, want 1", ok)
	}
}

func testImportEntries(t *testing.T, s blocklist.Store) {
	ctx := context.Background()
	if _, err := s.CreateOfficialNumber(ctx, official("+8695188", blocklist.DirectionInboundOnly), t0, officialEvent("official_number.create")); err != nil {
		t.Fatal(err)
	}
	existing := mustCreate(t, s, entry("+8613800138000", blocklist.CategoryScam))
	unchanged := mustCreate(t, s, entry("+8613900139000", blocklist.CategoryScam))
	t1 := t0.Add(time.Hour)
	row := func(p string, c blocklist.Category) blocklist.Entry {
		e := entry(p, c)
		e.Source, e.CreateBy, e.CreateTime, e.UpdateTime = blocklist.SourceImport, "importer", t1, t1
		return e
	}
	same := unchanged
	batch := []blocklist.Entry{
		row("+86170*", blocklist.CategorySpam),            // created
		row("+8613800138000", blocklist.CategoryRobocall), // updated
		same,                                                   // unchanged
		row("+8695188", blocklist.CategoryScam),                // refused: official
		row("+86171*", blocklist.CategorySpam),                 // created
		row("+86171*", blocklist.CategoryOther),                // the same pattern again: updated
		row("+8615000150000", blocklist.CategoryImpersonation), // created
	}
	outs, chs, err := s.ImportEntries(ctx, batch, t1, ev("entry.import"))
	if err != nil {
		t.Fatal(err)
	}
	want := []blocklist.ImportResult{blocklist.ImportCreated, blocklist.ImportUpdated, blocklist.ImportUnchanged,
		blocklist.ImportRefused, blocklist.ImportCreated, blocklist.ImportUpdated, blocklist.ImportCreated}
	if len(outs) != len(want) {
		t.Fatalf("ImportEntries returned %d outcomes for %d rows", len(outs), len(batch))
	}
	for i, o := range outs {
		if o.Result != want[i] {
			t.Errorf("row %d (%s): result %d, want %d (err %v)", i, batch[i].Pattern, o.Result, want[i], o.Err)
		}
	}
	if c := new(blocklist.ConflictError); !errors.As(outs[3].Err, &c) || c.Number != "+8695188" {
		t.Errorf("refused row err = %v, want a ConflictError naming +8695188", outs[3].Err)
	}
	if len(chs) != 5 {
		t.Errorf("ImportEntries made %d changes, want 5 (created and updated rows only)", len(chs))
	}
	for i := 1; i < len(chs); i++ {
		if chs[i].Seq != chs[i-1].Seq+1 {
			t.Errorf("import changes not consecutive: %d then %d", chs[i-1].Seq, chs[i].Seq)
		}
	}
	upd, _ := s.GetEntryByPattern(ctx, "+8613800138000")
	if upd.ID != existing.ID || upd.CreateBy != existing.CreateBy || !upd.CreateTime.Equal(existing.CreateTime) ||
		upd.Category != blocklist.CategoryRobocall || upd.Source != blocklist.SourceImport || !upd.UpdateTime.Equal(t1) {
		t.Errorf("updated row = %+v; want ID, author and create time of %+v with the row's content", upd, existing)
	}
	if u, _ := s.GetEntryByPattern(ctx, unchanged.Pattern); u.Rev != unchanged.Rev {
		t.Errorf("an unchanged row was rewritten (rev %d -> %d)", unchanged.Rev, u.Rev)
	}
	if o, _ := s.GetEntryByPattern(ctx, "+86171*"); o.Category != blocklist.CategoryOther {
		t.Errorf("the later row of a pattern did not win: %+v", o)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{}); n != 5 {
		t.Errorf("CountEntries = %d after import, want 5", n)
	}
	if n, _ := s.CountEntries(ctx, blocklist.EntryFilter{Source: blocklist.SourceImport}); n != 4 {
		t.Errorf("CountEntries(IMPORT) = %d after import, want 4", n)
	}
	// Importing the same rows again changes nothing.
	outs, chs, err = s.ImportEntries(ctx, batch[:3], t1, ev("entry.import"))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		if o.Result != blocklist.ImportUnchanged {
			t.Errorf("re-import row %d: result %d, want unchanged", i, o.Result)
		}
	}
	if len(chs) != 0 {
		t.Errorf("re-import made %d changes, want 0", len(chs))
	}
}
