package blocklist

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Entry fields an update mask may name. Everything else is identity,
// authorship or derived.
var mutableFields = []string{"pattern", "category", "reason", "source", "confidence", "expire_time"}

const maxEntryID = 64

// CreateEntry blocks a number or prefix. The creator is the actor; Source
// defaults to SOURCE_ANALYST. It is refused with FAILED_PRECONDITION when the
// pattern would match a registered official number, and with ALREADY_EXISTS
// when an entry has that pattern already.
func (s *Service) CreateEntry(ctx context.Context, actor audit.Actor, e Entry) (Entry, error) {
	now := s.clock()
	if e.Source == SourceUnspecified {
		e.Source = SourceAnalyst
	}
	e, err := s.validateEntry(e, now, true)
	if err != nil {
		return Entry{}, err
	}
	e.ID, e.Rev = "", 0
	e.CreateBy, e.CreateTime, e.UpdateTime = actor.Subject, now, now
	var stored Entry
	err = s.write(ctx, func() ([]Change, error) {
		var c Change
		var err error
		stored, c, err = s.store.CreateEntry(ctx, e, now, s.audit.Event(actor, "entry.create", "", nil, nil))
		if err != nil {
			return nil, err
		}
		return []Change{c}, nil
	})
	if err != nil {
		return Entry{}, s.entryWriteErr(ctx, err, e.Pattern)
	}
	return stored, nil
}

// entryWriteErr turns a store refusal into the client's answer.
func (s *Service) entryWriteErr(ctx context.Context, err error, pattern string) error {
	var c *ConflictError
	switch {
	case errors.As(err, &c):
		return fault.Wrap(fault.ErrFailedPrecondition,
			"pattern "+pattern+" would match the official number "+c.Number.String()+", which must never be blocked", err)
	case errors.Is(err, fault.ErrAlreadyExists):
		msg := "an entry with pattern " + pattern + " exists already"
		if old, gerr := s.store.GetEntryByPattern(ctx, pattern); gerr == nil {
			msg += " (entry_id " + old.ID + "); update it instead"
		}
		return fault.Wrap(fault.ErrAlreadyExists, msg, err)
	case errors.Is(err, fault.ErrNotFound):
		return fault.Wrap(fault.ErrNotFound, "no such blocklist entry", err)
	}
	return err
}

func checkEntryID(id string) error {
	if id == "" {
		return fault.Invalid("entry_id", "is required")
	}
	if len(id) > maxEntryID {
		return fault.Invalid("entry_id", "is not an entry ID")
	}
	return nil
}

// GetEntry returns one entry.
func (s *Service) GetEntry(ctx context.Context, id string) (Entry, error) {
	if err := checkEntryID(id); err != nil {
		return Entry{}, err
	}
	e, err := s.store.GetEntry(ctx, id)
	if errors.Is(err, fault.ErrNotFound) {
		return Entry{}, fault.Wrap(fault.ErrNotFound, "no such blocklist entry", err)
	}
	return e, err
}

// UpdateEntry changes the fields of entry id named in fields (proto field
// names; all mutable fields when empty) to those of patch. A changed pattern
// is checked against official numbers and other entries like a new one; so
// is an entry that the update makes active again. An update that changes
// nothing returns the entry as it is and records nothing.
func (s *Service) UpdateEntry(ctx context.Context, actor audit.Actor, id string, patch Entry, fields []string) (Entry, error) {
	if err := checkEntryID(id); err != nil {
		return Entry{}, err
	}
	set, err := maskFields(fields)
	if err != nil {
		return Entry{}, err
	}
	// The store compares the revision it was read at; a lost race reads
	// again rather than overwrite another analyst's change.
	for attempt := 0; ; attempt++ {
		cur, err := s.GetEntry(ctx, id)
		if err != nil {
			return Entry{}, err
		}
		now := s.clock()
		next := cur
		if set["pattern"] {
			next.Pattern = patch.Pattern
		}
		if set["category"] {
			next.Category = patch.Category
		}
		if set["reason"] {
			next.Reason = patch.Reason
		}
		if set["source"] {
			next.Source = patch.Source
		}
		if set["confidence"] {
			next.Confidence = patch.Confidence
		}
		if set["expire_time"] {
			next.ExpireTime = patch.ExpireTime
		}
		next, err = s.validateEntry(next, now, set["expire_time"])
		if err != nil {
			return Entry{}, err
		}
		if next.SameContent(cur) {
			return cur, nil
		}
		next.UpdateTime = now
		var stored Entry
		err = s.write(ctx, func() ([]Change, error) {
			var chs []Change
			var err error
			stored, chs, err = s.store.UpdateEntry(ctx, next, cur.Rev, now, s.audit.Event(actor, "entry.update", id, nil, nil))
			return chs, err
		})
		var c *ConflictError
		if err != nil && !errors.As(err, &c) && errors.Is(err, fault.ErrConflict) {
			if attempt < 3 {
				continue
			}
			return Entry{}, fault.Wrap(fault.ErrConflict, "the entry is being changed by someone else; please retry", err)
		}
		if err != nil {
			return Entry{}, s.entryWriteErr(ctx, err, next.Pattern)
		}
		return stored, nil
	}
}

// maskFields checks an update mask and returns the set of fields it names.
func maskFields(fields []string) (map[string]bool, error) {
	set := map[string]bool{}
	if len(fields) == 0 {
		for _, f := range mutableFields {
			set[f] = true
		}
		return set, nil
	}
	for _, f := range fields {
		name := snakeCase(strings.TrimSpace(f))
		switch {
		case slices.Contains(mutableFields, name):
			set[name] = true
		case name == "entry_id" || name == "kind" || name == "create_by" || name == "create_time" || name == "update_time":
			return nil, fault.Invalidf("update_mask", "names %s, which cannot be changed", name)
		default:
			return nil, fault.Invalidf("update_mask", "names %q, which is not an entry field", clip(f))
		}
	}
	return set, nil
}

// snakeCase accepts the JSON spelling of a field name ("expireTime").
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// DeleteEntry removes an entry; its pattern stops matching at once.
func (s *Service) DeleteEntry(ctx context.Context, actor audit.Actor, id string) error {
	if err := checkEntryID(id); err != nil {
		return err
	}
	err := s.write(ctx, func() ([]Change, error) {
		var c Change
		var err error
		_, c, err = s.store.DeleteEntry(ctx, id, s.audit.Event(actor, "entry.delete", id, nil, nil))
		if err != nil {
			return nil, err
		}
		return []Change{c}, nil
	})
	if err != nil {
		return s.entryWriteErr(ctx, err, "")
	}
	return nil
}

// ListEntries lists entries in pattern order, filtered by f, with the total
// number of entries f selects.
func (s *Service) ListEntries(ctx context.Context, f EntryFilter, pageSize int, pageToken string) (entries []Entry, next string, total int, err error) {
	if f.Category != CategoryUnspecified && !f.Category.Valid() {
		return nil, "", 0, fault.Invalid("category", "is not a category")
	}
	if f.Source != SourceUnspecified && !f.Source.Valid() {
		return nil, "", 0, fault.Invalid("source", "is not a source")
	}
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", 0, err
	}
	after, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", 0, err
	}
	entries, err = s.store.ListEntries(ctx, f, after, size+1)
	if err != nil {
		return nil, "", 0, err
	}
	if len(entries) > size {
		entries = entries[:size]
		next = encodeToken(entries[size-1].Pattern)
	}
	total, err = s.store.CountEntries(ctx, f)
	if err != nil {
		return nil, "", 0, err
	}
	return entries, next, total, nil
}

// maxPatternPrefix bounds a prefix search: no pattern is longer.
const maxPatternPrefix = 17

// ListEntriesWithPrefix lists, in pattern order, the entries f selects
// whose pattern starts with prefix ('+' and digits; a trailing '*' is
// dropped). Patterns sort so that those sharing a prefix are contiguous:
// the store is read from the first possible one and the page ends at the
// first pattern without it. It does not count them (a broad prefix such as
// "+86" may select millions).
func (s *Service) ListEntriesWithPrefix(ctx context.Context, f EntryFilter, prefix string, pageSize int, pageToken string) (entries []Entry, next string, err error) {
	prefix = strings.TrimSuffix(strings.TrimSpace(prefix), "*")
	if !strings.HasPrefix(prefix, "+") {
		prefix = "+" + prefix
	}
	if len(prefix) > maxPatternPrefix || strings.Trim(prefix[1:], "0123456789") != "" {
		return nil, "", fault.Invalid("pattern_prefix", "must be '+' and digits, such as +86170")
	}
	if f.Category != CategoryUnspecified && !f.Category.Valid() {
		return nil, "", fault.Invalid("category", "is not a category")
	}
	if f.Source != SourceUnspecified && !f.Source.Valid() {
		return nil, "", fault.Invalid("source", "is not a source")
	}
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	if floor := prefixFloor(prefix); after < floor {
		after = floor
	}
	entries, err = s.store.ListEntries(ctx, f, after, size+1)
	if err != nil {
		return nil, "", err
	}
	n := 0
	for n < len(entries) && strings.HasPrefix(entries[n].Pattern, prefix) {
		n++
	}
	entries = entries[:n]
	if len(entries) > size {
		entries = entries[:size]
		next = encodeToken(entries[size-1].Pattern)
	}
	return entries, next, nil
}

// prefixFloor is a key below every pattern that starts with prefix and
// above every smaller pattern: prefix with its last byte one less, then a
// byte no pattern holds. (A store lists the patterns after a key.)
func prefixFloor(prefix string) string {
	last := len(prefix) - 1
	return prefix[:last] + string(rune(prefix[last]-1)) + "\xff"
}

// CheckNumber normalises raw and says whether the blocklist matches it
// (longest active match), with the whole stored entry.
func (s *Service) CheckNumber(ctx context.Context, raw string) (phone.Number, Entry, bool, error) {
	n, err := s.parseNumber("number", raw)
	if err != nil {
		return "", Entry{}, false, err
	}
	hit, ok := s.Match(n)
	if !ok {
		return n, Entry{}, false, nil
	}
	full, err := s.store.GetEntryByPattern(ctx, hit.Pattern)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		// Deleted between the lookup and the read: the index will say so
		// on the next check; this one reports what matched.
		return n, hit, true, nil
	case err != nil:
		return "", Entry{}, false, err
	}
	return n, full, true, nil
}

// ExportEntries calls fn for every entry f selects, in pattern order. It
// reads the store a page at a time, so a slow reader never holds a store
// snapshot open; entries changed during an export may show either version.
// The next page is read while fn takes the one before (a store across
// the network answers while the export writes), one page ahead at most.
func (s *Service) ExportEntries(ctx context.Context, f EntryFilter, fn func(Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		page []Entry
		err  error
	}
	pages := make(chan result) // unbuffered: the reader holds the one page ahead
	go func() {
		defer close(pages)
		after := ""
		for {
			page, err := s.store.ListEntries(ctx, f, after, exportPage)
			pages <- result{page, err}
			if err != nil || len(page) < exportPage {
				return
			}
			after = page[len(page)-1].Pattern
		}
	}()
	// On the way out the reader stops (its read fails on the cancelled
	// context, or the drain takes the page it holds) before ExportEntries
	// returns.
	defer func() {
		cancel()
		for range pages {
		}
	}()
	for r := range pages {
		if r.err != nil {
			return r.err
		}
		for _, e := range r.page {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

const exportPage = 1000
