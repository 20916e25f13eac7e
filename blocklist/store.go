package blocklist

import (
	"context"
	"fmt"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Store keeps the numbers domain's state. Every method is one atomic step;
// errors wrap the fault sentinels (fault.ErrNotFound, fault.ErrAlreadyExists,
// fault.ErrConflict, fault.ErrUnavailable). Implementations must pass
// storetest.Run.
type Store interface {
	// CreateOfficialNumber adds o and appends ev in the same atomic step,
	// unless the number is registered already (fault.ErrAlreadyExists) or
	// an entry active at now matches it (*ConflictError, which wraps
	// fault.ErrConflict); a refused number appends nothing. In the same
	// step it appends a ChangeOfficialPut with the record as stored (Gen
	// assigned) to the change log (see Changes) and returns it.
	CreateOfficialNumber(ctx context.Context, o OfficialNumber, now time.Time, ev audit.Event) (Change, error)
	// GetOfficialNumber returns n or fault.ErrNotFound.
	GetOfficialNumber(ctx context.Context, n phone.Number) (OfficialNumber, error)
	// ListOfficialNumbers returns up to limit numbers greater than after, in order.
	ListOfficialNumbers(ctx context.Context, after string, limit int) ([]OfficialNumber, error)
	// DeleteOfficialNumber removes n and returns what it was, or
	// fault.ErrNotFound. A backend that also keeps the calls domain's calls
	// (verify.Store) ends, in the same atomic step, every call from n that
	// is live at now, so that no call from a number that is no longer
	// official goes on verifying; it returns how many. It appends ev with
	// Before set to the deleted number's Snapshot and After["ended_calls"]
	// to how many calls it ended (After is created when nil). In the same
	// step it appends a ChangeOfficialDelete (Official: the deleted
	// record) to the change log and returns it.
	DeleteOfficialNumber(ctx context.Context, n phone.Number, now time.Time, ev audit.Event) (OfficialNumber, int, Change, error)

	// Every write below that changes an entry returns the Change(s) it
	// made, numbered by one counter for the whole blocklist (see Change),
	// and appends them to the change log (see Changes) in the same step.
	//
	// Every write below takes the audit event of what it does (actor,
	// action, time; see audit.Recorder.Event), completes it with what the
	// step decided, using this package's EntryEvent, ImportBatchEvent,
	// ReportEvent and ResolveEvent, so that every backend records the same,
	// and appends it in the same atomic step as the change: both commit or
	// neither does. A refused write appends nothing.

	// CreateEntry stores e (pattern canonical, fields valid), assigning its
	// ID and Rev, unless an entry has that pattern already
	// (fault.ErrAlreadyExists) or e is active at now and matches an
	// official number (*ConflictError). The check and the write are one
	// atomic step; its event is EntryEvent(ev, nil, &stored).
	CreateEntry(ctx context.Context, e Entry, now time.Time, ev audit.Event) (Entry, Change, error)
	// GetEntry returns the entry with that ID, or fault.ErrNotFound.
	GetEntry(ctx context.Context, id string) (Entry, error)
	// GetEntryByPattern returns the entry with that canonical pattern, or
	// fault.ErrNotFound.
	GetEntryByPattern(ctx context.Context, pattern string) (Entry, error)
	// UpdateEntry replaces the entry e.ID with e if its Rev is still rev
	// (fault.ErrConflict otherwise; fault.ErrNotFound when it is gone). A new
	// pattern must be free (fault.ErrAlreadyExists), and an entry active at
	// now must match no official number (*ConflictError). ID, CreateBy and
	// CreateTime are kept from the stored entry. A pattern change is two
	// changes: a delete of the old pattern and a put of the new. Its event
	// is EntryEvent(ev, &old, &stored).
	UpdateEntry(ctx context.Context, e Entry, rev uint64, now time.Time, ev audit.Event) (Entry, []Change, error)
	// DeleteEntry removes the entry and returns it, or fault.ErrNotFound.
	// Its event is EntryEvent(ev, &old, nil).
	DeleteEntry(ctx context.Context, id string, ev audit.Event) (Entry, Change, error)
	// ListEntries returns up to limit entries selected by f whose pattern
	// sorts after after, in pattern order.
	ListEntries(ctx context.Context, f EntryFilter, after string, limit int) ([]Entry, error)
	// CountEntries counts the entries selected by f without reading them.
	CountEntries(ctx context.Context, f EntryFilter) (int, error)
	// ScanEntries calls fn for every entry of one consistent snapshot and
	// returns the sequence number of the last change that snapshot holds,
	// which is where a follower of later changes starts.
	ScanEntries(ctx context.Context, fn func(Entry) error) (seq uint64, err error)
	// Changes returns up to limit (> 0) changes with Seq above afterSeq,
	// in Seq order, from the store's change log. Every write that changes
	// an entry or an official number appends its Changes to the log in its
	// own atomic step, with
	// Seq from the counter that ScanEntries reports and that nothing else
	// advances, so the log has no holes and no two writers (in this
	// process or another) share a number. An empty result means afterSeq
	// is the last change. The log is bounded (each backend documents how):
	// when it no longer holds afterSeq+1, or afterSeq is beyond the last
	// change (the store lost data or was replaced), Changes fails with an
	// error wrapping ErrGap and the follower must reload from ScanEntries.
	Changes(ctx context.Context, afterSeq uint64, limit int) ([]Change, error)
	// ImportEntries upserts a batch by pattern in one atomic step: a new
	// pattern is created (ID assigned), an existing one takes the row's
	// category, reason, source, confidence, expiry and UpdateTime (keeping
	// ID, CreateBy and CreateTime), and a row that changes nothing is left
	// alone. A row active at now that matches an official number is refused
	// alone (its outcome carries the *ConflictError); the rest still commit.
	// The batch's event, ImportBatchEvent(ev, batch, outcomes), is appended
	// even when the batch is empty or changes nothing: it is the record of
	// what this part of an import held.
	ImportEntries(ctx context.Context, batch []Entry, now time.Time, ev audit.Event) ([]ImportOutcome, []Change, error)

	// AddReport records a customer's report of r.CallerNumber by reporter
	// and returns it (ID assigned) with the number's group after it, in one
	// atomic step. The store derives the key it keeps for reporter in one
	// place and never stores the number itself. It refuses with
	// fault.ErrResourceExhausted when reporter has made lim.MaxPerDay
	// reports already on r.CreateTime's UTC day. A report reopens a
	// DISMISSED group; a BLOCKED group stays blocked. Its event is
	// ReportEvent(ev, stored, group); the caller names the reporter in ev
	// only masked.
	AddReport(ctx context.Context, r Report, reporter phone.Number, lim ReportLimits, ev audit.Event) (Report, ReportedNumber, error)
	// GetReportedNumber returns the group of n, or fault.ErrNotFound.
	GetReportedNumber(ctx context.Context, n phone.Number) (ReportedNumber, error)
	// ListReportedNumbers returns up to limit groups, open ones first and
	// busiest first within a status, after the store's opaque cursor ("" for
	// the start), and the cursor of the next page ("" at the end).
	ListReportedNumbers(ctx context.Context, cursor string, limit int) ([]ReportedNumber, string, error)
	// ResolveReportedNumber closes the OPEN group of n with status
	// (fault.ErrFailedPrecondition when it is not open, fault.ErrNotFound
	// when there is none). With block set (for ReportBlocked) it creates that
	// entry in the same atomic step, with CreateEntry's checks, except that
	// an existing entry with the same pattern is kept and returned instead.
	// Its event is ResolveEvent(ev, groupBefore, groupAfter, entry), entry
	// nil when nothing was blocked.
	ResolveReportedNumber(ctx context.Context, n phone.Number, status ReportStatus, block *Entry, now time.Time, ev audit.Event) (ReportedNumber, Entry, []Change, error)

	// PruneReports is housekeeping: it deletes, oldest first and at most
	// limit together, the report records made before before, and the OPEN
	// and DISMISSED groups whose last report is before before (with what
	// counts their reporters), and what it keeps of reporters' activity
	// before before (such as daily counts), and returns how many things it
	// deleted. A BLOCKED group is kept: it says why its number was
	// blocked, and a later report of the number joins it and leaves it
	// BLOCKED. A pruned DISMISSED group behaves as it would have anyway
	// (a new report opens a group), only counting afresh. When it deleted
	// any, it appends ev with After["pruned_reports"] and
	// After["pruned_groups"] set, and a "pruned_"-prefixed count of
	// anything else it deleted, together what it returns (After is
	// created when nil), in the same
	// atomic step; when none, it appends nothing. The sweeper calls it
	// again while it returns limit.
	//
	// A backend with native expiry (Redis keys with a TTL of the last
	// report plus the retention, none on a BLOCKED group) may delete them
	// by itself and make this a no-op that returns 0: the suite checks what
	// is observable (GetReportedNumber says fault.ErrNotFound for a group
	// past its retention; groups within it, and BLOCKED ones, are as they
	// were), not which of the two removed them.
	PruneReports(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error)
}

// IndexScanner is what a Store may also implement so that the matching
// index loads without reading whole entries: at 10M entries the reasons,
// authors and times that ScanEntries decodes cost most of a restart.
type IndexScanner interface {
	// ScanIndexEntries is ScanEntries for what the index holds: each
	// Entry carries Pattern, Kind, Category, Source, Confidence and
	// ExpireTime only, and its Pattern may share memory the store reuses
	// for the next entry: fn keeps a copy (strings.Clone) if anything.
	ScanIndexEntries(ctx context.Context, fn func(Entry) error) (seq uint64, err error)
}

// ImportBatchInput is one batch of an import with its event, for
// BatchImporter.
type ImportBatchInput struct {
	Entries []Entry
	Event   audit.Event
}

// ImportBatchResult is what ImportEntries would have returned for one
// batch.
type ImportBatchResult struct {
	Outcomes []ImportOutcome
	Changes  []Change
}

// BatchImporter is a Store that commits several import batches at once,
// which an import uses when the store offers it: few transactions and
// syncs to disk for many batches (the embedded store), or one round trip
// for many (Redis). Each batch is exactly what ImportEntries makes of it
// (its rows, outcomes, changes and event, in one atomic step), and the
// batches commit in order, so a batch sees every batch before it. On an
// error, the results returned are those of the batches that committed,
// always the first ones; a store whose step covers every batch returns
// none.
type BatchImporter interface {
	ImportEntryBatches(ctx context.Context, batches []ImportBatchInput, now time.Time) ([]ImportBatchResult, error)
}

// EntryFilter selects entries; zero fields select all.
type EntryFilter struct {
	Category Category
	Source   Source
}

// Match reports whether f selects e.
func (f EntryFilter) Match(e Entry) bool {
	return (f.Category == CategoryUnspecified || f.Category == e.Category) &&
		(f.Source == SourceUnspecified || f.Source == e.Source)
}

// ImportResult says what an import did with one row.
type ImportResult uint8

const (
	ImportCreated ImportResult = iota + 1
	ImportUpdated
	// ImportUnchanged: the stored entry already said the same.
	ImportUnchanged
	// ImportRefused: see ImportOutcome.Err.
	ImportRefused
)

// ImportOutcome is the fate of one row of an import batch.
type ImportOutcome struct {
	Result ImportResult
	Entry  Entry // as stored, unless refused
	Err    error // for ImportRefused
}

// ReportLimits are the bounds AddReport enforces and measures.
type ReportLimits struct {
	// MaxPerDay is how many reports one customer may make per UTC day.
	MaxPerDay int
	// Window: AddReport counts the distinct reporters whose latest report of
	// the number is within Window before r.CreateTime (0: not counted).
	Window time.Duration
	// Notes is how many recent notes a group keeps.
	Notes int
}

// ConflictError says that an official number and a blocklist entry would
// match each other.
type ConflictError struct {
	EntryID string
	Pattern string
	Number  phone.Number // the official number
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("blocklist entry %s (%s) matches official number %s", e.EntryID, e.Pattern, e.Number)
}

// Unwrap makes errors.Is(err, fault.ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return errConflict }

var errConflict = fault.ErrConflict
