package blocklist

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// ReportStatus is where a reported number stands (proto enum
// callverify.v1.ReportStatus).
type ReportStatus uint8

const (
	ReportStatusUnspecified ReportStatus = iota
	ReportOpen
	ReportBlocked
	ReportDismissed
)

func (s ReportStatus) String() string {
	switch s {
	case ReportOpen:
		return "REPORT_STATUS_OPEN"
	case ReportBlocked:
		return "REPORT_STATUS_BLOCKED"
	case ReportDismissed:
		return "REPORT_STATUS_DISMISSED"
	}
	return "REPORT_STATUS_UNSPECIFIED"
}

// ResolveAction is what an analyst decides about a reported number (proto
// enum callverify.v1.ResolveAction).
type ResolveAction uint8

const (
	ResolveUnspecified ResolveAction = iota
	ResolveBlock
	ResolveDismiss
)

// Report is one customer's report of a caller. Who reported is not part of
// it: the store keeps only a key derived from the reporter's number.
type Report struct {
	ID           string
	CallerNumber phone.Number
	Note         string
	OccurTime    time.Time
	CreateTime   time.Time
}

// ReportedNumber is the reports of one number, grouped.
type ReportedNumber struct {
	CallerNumber      phone.Number
	ReportCount       int
	DistinctReporters int
	FirstReportTime   time.Time
	LastReportTime    time.Time
	Status            ReportStatus
	Notes             []string // newest first, at most RecentNotes
	// EntryID is the entry that blocked the number (status BLOCKED).
	EntryID string
	// RecentReporters is, as AddReport returns it, the number of distinct
	// reporters within the window it was asked about.
	RecentReporters int
}

const (
	// RecentNotes is how many notes a group shows.
	RecentNotes = 5
	maxNote     = 500
	// A report may describe a call up to this long ago.
	maxReportAge = 90 * 24 * time.Hour
	clockSkew    = 5 * time.Minute
	// Confidence of an entry created from reports: an analyst decided, or
	// only the reporters' number did.
	analystReportConfidence = 90
	autoBlockConfidence     = 70
)

// ReportCaller records a customer's report of a caller. reporterNumber is
// the customer's own number (the token's phone_number claim): it identifies
// the reporter, so that one customer reporting a number again does not
// count as another reporter, and it bounds how many reports a customer may
// make per day. When auto-blocking is on and enough distinct customers have
// now reported the number, it is blocked.
func (s *Service) ReportCaller(ctx context.Context, reporterNumber, callerRaw, note string, occur time.Time) (Report, error) {
	reporter, err := s.phone.Parse(reporterNumber)
	if err != nil {
		return Report{}, fault.New(fault.ErrPermissionDenied, "your account has no valid phone number, so it cannot report callers")
	}
	caller, err := s.parseNumber("caller_number", callerRaw)
	if err != nil {
		return Report{}, err
	}
	note, err = cleanNote(note)
	if err != nil {
		return Report{}, err
	}
	now := s.clock()
	switch {
	case occur.IsZero():
		occur = now
	case occur.After(now.Add(clockSkew)):
		return Report{}, fault.Invalid("occur_time", "is in the future")
	case occur.Before(now.Add(-maxReportAge)):
		return Report{}, fault.Invalid("occur_time", "is more than 90 days ago")
	}
	r := Report{CallerNumber: caller, Note: note, OccurTime: occur.UTC().Truncate(time.Millisecond), CreateTime: now}
	lim := ReportLimits{MaxPerDay: s.maxReportsPerDay, Notes: RecentNotes}
	if s.autoBlock.enabled() {
		lim.Window = s.autoBlock.Window
	}
	// The reporter is a customer: the record names them only masked.
	ev := s.audit.Event(audit.Actor{Subject: reporter.Masked(), Role: "customer"}, "report.create", "", nil, nil)
	r, grp, err := s.store.AddReport(ctx, r, reporter, lim, ev)
	if err != nil {
		if errors.Is(err, fault.ErrResourceExhausted) {
			return Report{}, fault.Wrap(fault.ErrResourceExhausted,
				"you have made the most reports allowed today; please try again tomorrow", err)
		}
		return Report{}, err
	}
	if s.autoBlock.enabled() && grp.Status == ReportOpen && grp.RecentReporters >= s.autoBlock.Reporters {
		reason := strconv.Itoa(grp.RecentReporters) + " customers reported this number within " + durationDays(s.autoBlock.Window)
		_, _, err := s.resolve(ctx, audit.System, caller, ResolveBlock, s.autoBlock.Category, reason, autoBlockConfidence)
		// Another report may have blocked it first, an analyst may have
		// resolved it, or it is an official number (spoofed, and so never
		// blocked): the report itself stands either way.
		if err != nil && !errors.Is(err, fault.ErrFailedPrecondition) {
			return Report{}, err
		}
	}
	return r, nil
}

// cleanNote applies the text policy to a note (see noteField).
func cleanNote(note string) (string, error) {
	return noteField().Clean(note)
}

// ListReportedNumbers lists reported numbers, open ones first, busiest
// first.
func (s *Service) ListReportedNumbers(ctx context.Context, pageSize int, pageToken string) ([]ReportedNumber, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	cursor, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.store.ListReportedNumbers(ctx, cursor, size)
	if err != nil {
		if errors.Is(err, fault.ErrInvalidArgument) {
			return nil, "", fault.Invalid("page_token", "is not a page token this service issued")
		}
		return nil, "", err
	}
	if next != "" {
		next = encodeToken(next)
	}
	return list, next, nil
}

// ResolveReportedNumber closes the open reports of a number: BLOCK creates
// an exact entry (source SOURCE_CUSTOMER_REPORTS) in the same step, DISMISS
// only closes them. It returns the group and, for BLOCK, the entry.
func (s *Service) ResolveReportedNumber(ctx context.Context, actor audit.Actor, rawNumber string, action ResolveAction, c Category, reason string) (ReportedNumber, Entry, error) {
	n, err := s.parseNumber("caller_number", rawNumber)
	if err != nil {
		return ReportedNumber{}, Entry{}, err
	}
	switch action {
	case ResolveBlock:
		if !c.Valid() {
			return ReportedNumber{}, Entry{}, fault.Invalid("category", "is required to block: one of CATEGORY_IMPERSONATION, CATEGORY_SCAM, CATEGORY_SPAM, CATEGORY_ROBOCALL, CATEGORY_OTHER")
		}
	case ResolveDismiss:
	default:
		return ReportedNumber{}, Entry{}, fault.Invalid("action", "must be RESOLVE_ACTION_BLOCK or RESOLVE_ACTION_DISMISS")
	}
	return s.resolve(ctx, actor, n, action, c, reason, analystReportConfidence)
}

func (s *Service) resolve(ctx context.Context, actor audit.Actor, n phone.Number, action ResolveAction, c Category, reason string, confidence int) (ReportedNumber, Entry, error) {
	now := s.clock()
	status := ReportDismissed
	var block *Entry
	if action == ResolveBlock {
		status = ReportBlocked
		e, err := s.validateEntry(Entry{
			Pattern: n.String(), Category: c, Reason: reason, Source: SourceCustomerReports, Confidence: confidence,
		}, now, false)
		if err != nil {
			return ReportedNumber{}, Entry{}, err
		}
		e.CreateBy, e.CreateTime, e.UpdateTime = actor.Subject, now, now
		block = &e
	}
	act := "reported_number.dismiss"
	if action == ResolveBlock {
		act = "reported_number.block"
	}
	var grp ReportedNumber
	var entry Entry
	err := s.write(ctx, func() ([]Change, error) {
		var chs []Change
		var err error
		grp, entry, chs, err = s.store.ResolveReportedNumber(ctx, n, status, block, now, s.audit.Event(actor, act, n.String(), nil, nil))
		return chs, err
	})
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		return ReportedNumber{}, Entry{}, fault.Wrap(fault.ErrFailedPrecondition,
			"this is the official number "+n.String()+" and cannot be blocked; its callers are spoofing it", err)
	case errors.Is(err, fault.ErrFailedPrecondition):
		return ReportedNumber{}, Entry{}, fault.Wrap(fault.ErrFailedPrecondition, "the reports of this number are resolved already", err)
	case errors.Is(err, fault.ErrNotFound):
		return ReportedNumber{}, Entry{}, fault.Wrap(fault.ErrNotFound, "no customer has reported this number", err)
	case err != nil:
		return ReportedNumber{}, Entry{}, err
	}
	return grp, entry, nil
}

func (g ReportedNumber) snapshot() map[string]any {
	m := map[string]any{
		"caller_number":      g.CallerNumber.String(),
		"status":             g.Status.String(),
		"report_count":       g.ReportCount,
		"distinct_reporters": g.DistinctReporters,
	}
	if g.EntryID != "" {
		m["entry_id"] = g.EntryID
	}
	return m
}

// ListAuditEvents lists audit events newest first. It is here because the
// blocklist API serves it; the events are the whole service's.
func (s *Service) ListAuditEvents(ctx context.Context, f audit.Filter, pageSize int, pageToken string) ([]audit.Event, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	if len(f.Actor) > 256 {
		return nil, "", fault.Invalid("actor", "is too long")
	}
	if len(f.Action) > 256 {
		return nil, "", fault.Invalid("action", "is too long")
	}
	cursor, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	events, next, err := s.audit.List(ctx, f, size, cursor)
	if err != nil {
		return nil, "", err
	}
	if next != "" {
		next = encodeToken(next)
	}
	return events, next, nil
}

// durationDays renders a window for reasons and messages.
func durationDays(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	if days == 1 {
		return "1 day"
	}
	if days >= 1 {
		return strconv.Itoa(days) + " days"
	}
	return d.String()
}
