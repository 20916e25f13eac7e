package callback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/internal/text"
)

// Defaults of Config.
const (
	// DefaultMaxOpen is how many requests a customer may have waiting.
	DefaultMaxOpen = 3
	// DefaultTTL is how long a request waits for a call.
	DefaultTTL = 24 * time.Hour
	// DefaultClaimTimeout is how long a claim holds a request for its
	// dialer before it goes back to the queue.
	DefaultClaimTimeout = 15 * time.Minute
	// DefaultMaxAhead bounds how far ahead a preferred window may end.
	DefaultMaxAhead = 7 * 24 * time.Hour
)

// Field bounds of RequestCallback.
const (
	maxOrderRef  = 64
	maxCustomers = 50 // ListMine answers at most this many requests
)

// Page sizes of ListOpen.
const (
	defPage = 50
	maxPage = 500
)

// Client-facing messages that must not differ between cases somebody could
// use to probe.
const (
	msgNotFound  = "the callback request does not exist or can no longer be cancelled"
	msgNotOpen   = "the callback request is no longer open: another dialer claimed it, or it was answered, cancelled or expired"
	msgUnknown   = "the callback request does not exist"
	msgTooMany   = "you already have the most callback requests open at once; cancel one or wait for our call"
	msgBadWindow = "preferred_window"
	languageZhCN = "zh-CN"
	languageEn   = "en"
)

// Config is what a Service needs.
type Config struct {
	Store Store
	Audit *audit.Recorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxOpen requests per customer (default DefaultMaxOpen).
	MaxOpen int
	// TTL of a request (default DefaultTTL); a request whose preferred
	// window ends later waits until the window's end.
	TTL time.Duration
	// ClaimTimeout (default DefaultClaimTimeout).
	ClaimTimeout time.Duration
	// MaxAhead (default DefaultMaxAhead).
	MaxAhead time.Duration
}

// Service is the callbacks domain. It is safe for concurrent use.
type Service struct {
	store        Store
	audit        *audit.Recorder
	now          func() time.Time
	maxOpen      int
	ttl          time.Duration
	claimTimeout time.Duration
	maxAhead     time.Duration
}

// NewService returns a Service over cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil {
		return nil, errors.New("callback: Store and Audit are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = DefaultMaxOpen
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.MaxAhead <= 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.TTL > cfg.MaxAhead {
		return nil, fmt.Errorf("callback: a request's TTL %v is longer than the preferred window's bound %v", cfg.TTL, cfg.MaxAhead)
	}
	return &Service{
		store: cfg.Store, audit: cfg.Audit, now: cfg.Now, maxOpen: cfg.MaxOpen,
		ttl: cfg.TTL, claimTimeout: cfg.ClaimTimeout, maxAhead: cfg.MaxAhead,
	}, nil
}

// NewRequest is what a customer asks for.
type NewRequest struct {
	Reason   int
	OrderRef string
	Window   Window // zero: any time
	Language string // "zh-CN" (default) or "en"
}

// Listed is a request with its place in the queue (0 unless OPEN).
type Listed struct {
	Request
	Position int
}

// ParseLanguage normalises the language of a request: "zh-CN" for ""
// and any Chinese tag, "en" for any English one, an error otherwise (a
// person will be spoken to in it, so a typo is not guessed at).
func ParseLanguage(tag string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "", t == "zh", strings.HasPrefix(t, "zh-"), strings.HasPrefix(t, "zh_"):
		return languageZhCN, nil
	case t == "en", strings.HasPrefix(t, "en-"), strings.HasPrefix(t, "en_"):
		return languageEn, nil
	}
	return "", fault.Invalid("language", `must be "zh-CN" or "en"`)
}

// Request asks for a callback for customer, the number of the caller's
// token (never one from the request). It answers the stored request with
// its place in the queue (1 = next).
func (s *Service) Request(ctx context.Context, actor audit.Actor, customer phone.Number, in NewRequest) (Listed, error) {
	if customer == "" {
		return Listed{}, fault.New(fault.ErrPermissionDenied, "the token carries no phone number")
	}
	if !ValidReason(in.Reason) {
		return Listed{}, fault.Invalid("reason", "is required (any reason but marketing)")
	}
	orderRef, err := text.Field{Name: "order_ref", Max: maxOrderRef}.Clean(in.OrderRef)
	if err != nil {
		return Listed{}, err
	}
	lang, err := ParseLanguage(in.Language)
	if err != nil {
		return Listed{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	win, err := s.checkWindow(in.Window, now)
	if err != nil {
		return Listed{}, err
	}
	expire := now.Add(s.ttl)
	if win.End.After(expire) {
		expire = win.End // wait until the window the customer asked for has closed
	}
	r := Request{
		ID: s.store.NewRequestID(customer), Customer: customer, CustomerID: actor.Subject, Reason: in.Reason,
		OrderRef: orderRef, Window: win, Language: lang, State: StateOpen, CreateTime: now, ExpireTime: expire,
	}
	ev := s.audit.Event(actor, "callback.request", r.ID, nil, map[string]any{
		"customer": customer.Masked(), "reason": r.Reason, "expire_time": expire.Format(time.RFC3339),
	})
	if err := s.store.CreateRequest(ctx, r, s.maxOpen, ev); err != nil {
		if errors.Is(err, fault.ErrResourceExhausted) {
			return Listed{}, fault.Wrap(fault.ErrResourceExhausted, msgTooMany, err)
		}
		return Listed{}, err
	}
	pos, err := s.store.QueuePosition(ctx, r.ID, now)
	if err != nil {
		return Listed{}, err
	}
	return Listed{Request: r, Position: pos}, nil
}

// checkWindow validates a preferred window: both ends or neither, the end
// after the start and not in the past, and the end within MaxAhead.
func (s *Service) checkWindow(w Window, now time.Time) (Window, error) {
	if w.Start.IsZero() && w.End.IsZero() {
		return Window{}, nil
	}
	switch {
	case w.Start.IsZero() || w.End.IsZero():
		return Window{}, fault.Invalid(msgBadWindow, "needs both start_time and end_time, or neither")
	case !w.End.After(w.Start):
		return Window{}, fault.Invalid(msgBadWindow, "must end after it starts")
	case !w.End.After(now):
		return Window{}, fault.Invalid(msgBadWindow, "must not be in the past")
	case w.End.After(now.Add(s.maxAhead)):
		return Window{}, fault.Invalidf(msgBadWindow, "must end within %s from now", s.maxAhead)
	}
	return Window{Start: w.Start.UTC(), End: w.End.UTC()}, nil
}

// ListMine returns the customer's requests, newest first, each in its
// effective state now, an OPEN one with its place in the queue.
func (s *Service) ListMine(ctx context.Context, customer phone.Number) ([]Listed, error) {
	now := s.now()
	rs, err := s.store.ListByCustomer(ctx, customer, maxCustomers)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(rs))
	for _, r := range rs {
		if r.Customer != customer {
			continue // never another customer's, whatever a store answers
		}
		l := Listed{Request: r}
		l.State = r.StateAt(now)
		if l.State == StateOpen {
			if l.Position, err = s.store.QueuePosition(ctx, r.ID, now); err != nil {
				return nil, err
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// Cancel withdraws the customer's own waiting request. Anybody else's,
// an unknown one and one already final answer alike (NotFound).
func (s *Service) Cancel(ctx context.Context, actor audit.Actor, customer phone.Number, id string) (Request, error) {
	if !wellFormedID(id) || customer == "" {
		return Request{}, fault.NotFound(msgNotFound)
	}
	now := s.now().UTC().Truncate(time.Millisecond) // what every store keeps
	ev := s.audit.Event(actor, "callback.cancel", id, nil, map[string]any{"state": StateCancelled.String()})
	r, err := s.store.Cancel(ctx, id, customer, now, ev)
	if errors.Is(err, fault.ErrNotFound) {
		return Request{}, fault.Wrap(fault.ErrNotFound, msgNotFound, err)
	}
	return r, err
}

// CountWaiting is how many requests wait in the queue (open or claimed).
func (s *Service) CountWaiting(ctx context.Context) (int, error) { return s.store.CountWaiting(ctx) }

// ListOpen lists the requests open now, oldest first, of reason (0 any).
// The customers' numbers in them are for the dialer's screen only masked
// (phone.Number.Masked): the full number goes to the claimer alone.
func (s *Service) ListOpen(ctx context.Context, reason int, pageSize int, pageToken string) ([]Request, string, error) {
	if reason != 0 && !ValidReason(reason) {
		return nil, "", fault.Invalid("reason", "is not a reason a callback can be asked for")
	}
	switch {
	case pageSize < 0:
		return nil, "", fault.Invalid("page_size", "must not be negative")
	case pageSize == 0:
		pageSize = defPage
	case pageSize > maxPage:
		pageSize = maxPage
	}
	now := s.now()
	rs, next, err := s.store.ListOpen(ctx, now.UTC(), reason, pageToken, pageSize)
	if err != nil {
		return nil, "", err
	}
	for i := range rs {
		rs[i].State = rs[i].StateAt(now)
		rs[i].ClaimedBy, rs[i].ClaimTime, rs[i].ClaimUntil = "", time.Time{}, time.Time{} // a lapsed claim is history
	}
	return rs, next, nil
}

// Claim takes an open request for the calling dialer until the claim
// timeout; two dialers never hold the same request. The answer carries
// the customer's full number, for the dialer to stamp the call with.
func (s *Service) Claim(ctx context.Context, actor audit.Actor, id string) (Request, error) {
	if !wellFormedID(id) {
		return Request{}, fault.NotFound(msgUnknown)
	}
	if actor.Subject == "" {
		return Request{}, fault.New(fault.ErrPermissionDenied, "the token names no subject")
	}
	now := s.now().UTC().Truncate(time.Millisecond) // what every store keeps
	until := now.Add(s.claimTimeout)
	ev := s.audit.Event(actor, "callback.claim", id, map[string]any{"state": StateOpen.String()},
		map[string]any{"state": StateClaimed.String(), "claimed_by": actor.Subject, "claim_until": until.Format(time.RFC3339)})
	released := s.audit.Event(audit.System, "callback.release", id, map[string]any{"state": StateClaimed.String()},
		map[string]any{"state": StateOpen.String(), "reason": "the claim was not answered by a call within the claim timeout"})
	r, err := s.store.Claim(ctx, id, actor.Subject, now, until, ev, released)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		return Request{}, fault.Wrap(fault.ErrNotFound, msgUnknown, err)
	case errors.Is(err, fault.ErrConflict):
		return Request{}, fault.Wrap(fault.ErrFailedPrecondition, msgNotOpen, err)
	case err != nil:
		return Request{}, err
	}
	return r, nil
}

// AnsweredBy returns the request call callID answers, when it is
// customer's own request, CALLED with exactly that call: the only way the
// app ever says "this is your callback". Anything else is ok == false.
func (s *Service) AnsweredBy(ctx context.Context, customer phone.Number, callID, requestID string) (Request, bool, error) {
	if requestID == "" || callID == "" || customer == "" || !wellFormedID(requestID) {
		return Request{}, false, nil
	}
	r, err := s.store.GetRequest(ctx, requestID)
	if errors.Is(err, fault.ErrNotFound) {
		return Request{}, false, nil
	}
	if err != nil {
		return Request{}, false, err
	}
	if r.Customer != customer || r.State != StateCalled || r.CallID != callID {
		return Request{}, false, nil
	}
	return r, true, nil
}

// ExpireDue records the expiry of requests whose time ran out (their
// effective state already is EXPIRED): the sweeper's step, as a
// retention.PruneFunc whose before is now (retention 0).
func (s *Service) ExpireDue(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	return s.store.ExpireRequests(ctx, before, limit, ev)
}

// Prune deletes final requests that became final before before.
func (s *Service) Prune(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error) {
	return s.store.PruneRequests(ctx, before, limit, ev)
}

// idLen is the length of a request id: 128 bits in lower-case base32.
const idLen = 26

// wellFormedID reports whether s can be a request id; anything else is
// answered as "not found" without a store round trip.
func wellFormedID(s string) bool {
	if len(s) != idLen {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '2' || r > '7')
	}) < 0
}
