package verify

import (
	"context"
	"errors"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Field bounds of StampCall.
const (
	maxReasonText = 64
	maxAgentID    = 64
	maxAgentName  = 64
	maxOrderRef   = 128
	maxCustomerID = 128
)

// StampRequest is a dialer's request to stamp a call. Numbers may be in any
// common written form.
type StampRequest struct {
	CallerNumber string
	CalleeNumber string
	CustomerID   string
	Reason       Reason
	ReasonText   string
	OrderRef     string
	AgentID      string
	AgentName    string
	TTLSeconds   int // 0 = DefaultTTL
	// CallbackRequestID, when set, is the callback request this call
	// answers: one the calling dialer claimed, to the requester's number.
	CallbackRequestID string
}

// Stamped is a stamped call with its token and the code to read out now.
type Stamped struct {
	Call          Call
	Token         string
	Code          string
	CodeExpiresAt time.Time
}

// Client-facing messages that must not differ between cases a customer or
// a dialer could use to probe.
const (
	msgCallNotFound = "the call does not exist or is no longer active"
	msgNotOfficial  = "caller_number is not an official number that may place calls"
	msgOptedOut     = "the customer does not accept marketing calls"
)

// StampCall registers an outbound call: the caller must be an official
// number that places calls, and a marketing call needs a customer who did
// not opt out. It returns the call, its signed token and the current code.
func (s *Service) StampCall(ctx context.Context, actor audit.Actor, req StampRequest) (Stamped, error) {
	caller, err := s.parseNumber("caller_number", req.CallerNumber)
	if err != nil {
		return Stamped{}, err
	}
	callee, err := s.parseNumber("callee_number", req.CalleeNumber)
	if err != nil {
		return Stamped{}, err
	}
	if caller == callee {
		return Stamped{}, fault.Invalid("callee_number", "must differ from caller_number")
	}
	if !req.Reason.Valid() {
		return Stamped{}, fault.Invalid("reason", "is required")
	}
	c := Call{Caller: caller, Callee: callee, Reason: req.Reason, CreateBy: actor.Subject}
	if c.ReasonText, err = checkText("reason_text", req.ReasonText, maxReasonText, false); err != nil {
		return Stamped{}, err
	}
	if looksLikeLink(c.ReasonText) {
		return Stamped{}, fault.Invalid("reason_text", "must not contain links or web addresses")
	}
	if c.AgentID, err = checkText("agent_id", req.AgentID, maxAgentID, true); err != nil {
		return Stamped{}, err
	}
	if c.AgentName, err = checkText("agent_name", req.AgentName, maxAgentName, true); err != nil {
		return Stamped{}, err
	}
	if c.OrderRef, err = checkText("order_ref", req.OrderRef, maxOrderRef, false); err != nil {
		return Stamped{}, err
	}
	if c.CustomerID, err = checkText("customer_id", req.CustomerID, maxCustomerID, false); err != nil {
		return Stamped{}, err
	}
	if req.CallbackRequestID != "" {
		if !wellFormedID(req.CallbackRequestID) {
			return Stamped{}, fault.Precondition(msgNotYourCallback)
		}
		c.CallbackRequestID = req.CallbackRequestID
	}
	ttl := DefaultTTL
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 1 || req.TTLSeconds > int(MaxTTL/time.Second) {
			return Stamped{}, fault.Invalidf("ttl_seconds", "must be between 1 and %d", int(MaxTTL/time.Second))
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}

	// The directory gives the display name and a friendly early answer;
	// the store's check, in the step that creates the call, is what
	// decides (a number deleted in between is caught there).
	off, err := s.stampingLine(ctx, caller)
	if err != nil {
		return Stamped{}, err
	}
	if _, blocked, err := s.dir.BlockedCategory(ctx, caller); err != nil {
		return Stamped{}, err
	} else if blocked {
		return Stamped{}, fault.Precondition(msgNotOfficial)
	}
	// The call is stored only under the record its display name came
	// from (CreateCall refuses another generation).
	c.DisplayName, c.Gen = off.DisplayName, off.Gen
	if c.Reason == ReasonMarketing {
		p, err := s.preferences(ctx, callee)
		if err != nil {
			return Stamped{}, err
		}
		if !p.MarketingCallsAllowed {
			return Stamped{}, fault.Precondition(msgOptedOut)
		}
	}
	devices, err := s.store.ListDevices(ctx, callee)
	if err != nil {
		return Stamped{}, err
	}
	var device *Device
	if len(devices) > 0 {
		device = &devices[0] // the newest
		c.DeviceID = device.ID
	}

	now := s.now().UTC()
	// Whole seconds: the token's iat and exp are whole seconds, and the
	// call must expire exactly when its token does.
	now = now.Truncate(time.Second)
	c.ID = s.store.NewCallID(c.Callee)
	c.OrigID = newUUID()
	c.State = StateActive
	c.CreateTime = now
	c.ExpireTime = now.Add(ttl)
	c.SealedSecret = s.seal.Seal(newSecret(), aadCall(c.ID))

	token, err := s.sign(ctx, c)
	if err != nil {
		return Stamped{}, err
	}
	secret, err := s.openSecret(c, device)
	if err != nil {
		return Stamped{}, err
	}
	code, until, err := codeAt(secret, c, s.now())
	if err != nil {
		return Stamped{}, err
	}
	after := map[string]any{
		"caller": c.Caller.String(), "callee": c.Callee.Masked(), "reason": int(c.Reason),
		"agent_id": c.AgentID, "expire_time": c.ExpireTime.Format(time.RFC3339),
	}
	if c.CallbackRequestID != "" {
		after["callback_request_id"] = c.CallbackRequestID
	}
	ev := s.audit.Event(actor, "call.stamp", c.ID, nil, after)
	err = s.createCall(ctx, actor, c, ev)
	if msg, _ := fault.Message(err); msg == msgNotOfficial {
		// The store has no longer the record the stamp was prepared
		// under (memory's may lag it; either may have changed since):
		// the line deleted, or registered again, perhaps under another
		// name, a moment ago. Start again from the store's record.
		refused := err
		if off, err = officialForStamp(s.dir.OfficialNumber(ctx, caller)); err != nil {
			return Stamped{}, err
		}
		c.DisplayName, c.Gen = off.DisplayName, off.Gen
		if token, err = s.sign(ctx, c); err != nil {
			return Stamped{}, err
		}
		if err = s.createCall(ctx, actor, c, ev); errors.Is(err, fault.ErrAlreadyExists) {
			// The first attempt was stored and then ended: a networked
			// store checks the record again after writing, and found it
			// changed. Its refusal stands.
			err = refused
		}
	}
	if err != nil {
		return Stamped{}, err
	}
	return Stamped{Call: c, Token: token, Code: code, CodeExpiresAt: until}, nil
}

// stampingLine is the official record StampCall starts from, checked to
// be a line that places calls: from the directory's memory when it knows n
// as one (no store round trip), else from the store, so that a line
// registered an instant ago on another instance, which memory may not know
// yet, is not refused. The store decides in the step that creates the
// call, under the record's generation: a record memory still holds after
// the line was deleted, or registered again (perhaps under another display
// name), is refused there, and StampCall starts again from the store's.
func (s *Service) stampingLine(ctx context.Context, n phone.Number) (Official, error) {
	if s.idir != nil {
		// A record without a generation (written before records had
		// one) cannot be held to it: it is read from the store.
		if off, err := s.idir.IndexedOfficialNumber(n); err == nil && off.PlacesCalls && !off.InboundOnly && off.Gen != "" {
			return off, nil
		}
	}
	return officialForStamp(s.dir.OfficialNumber(ctx, n))
}

// officialForStamp is a caller's record as the directory answered it, or
// the refusal of a number that is not a line that places calls.
func officialForStamp(off Official, err error) (Official, error) {
	switch {
	case errors.Is(err, fault.ErrNotFound):
		return Official{}, fault.Precondition(msgNotOfficial)
	case err != nil:
		return Official{}, err
	case !off.PlacesCalls || off.InboundOnly:
		return Official{}, fault.Precondition(msgNotOfficial)
	}
	return off, nil
}

// createCall stores c, and when it answers a callback request, the
// request's change with it in the same store step.
func (s *Service) createCall(ctx context.Context, actor audit.Actor, c Call, ev audit.Event) error {
	var err error
	if c.CallbackRequestID == "" {
		err = s.store.CreateCall(ctx, c, ev)
	} else {
		answered := s.audit.Event(actor, "callback.call", c.CallbackRequestID,
			map[string]any{"state": "CLAIMED"}, map[string]any{"state": "CALLED", "call_id": c.ID})
		err = s.store.CreateCallbackCall(ctx, c, ev, answered)
	}
	switch {
	case errors.Is(err, fault.ErrFailedPrecondition):
		return fault.Wrap(fault.ErrFailedPrecondition, msgNotOfficial, err)
	case errors.Is(err, fault.ErrConflict) && c.CallbackRequestID != "":
		return fault.Wrap(fault.ErrFailedPrecondition, msgNotYourCallback, err)
	}
	return err
}

// Roles as the audit log names them (auth.Role's values), for the rule of
// who sees which call.
const (
	roleAdmin   = "admin"
	roleAnalyst = "analyst"
)

// mayRead reports whether actor may see call c: admins and analysts any
// call, anybody else (a dialer) only the calls it stamped.
func mayRead(actor audit.Actor, c Call) bool {
	return actor.Role == roleAnalyst || mayUse(actor, c)
}

// mayUse reports whether actor may have the code of, or end, call c:
// admins any call, anybody else only the calls it stamped.
func mayUse(actor audit.Actor, c Call) bool {
	return actor.Role == roleAdmin || (actor.Subject != "" && c.CreateBy == actor.Subject)
}

// ownerFilter is the subject whose calls actor may change: "" for an admin
// (any call), the actor's own subject for anybody else.
func ownerFilter(actor audit.Actor) string {
	if actor.Role == roleAdmin {
		return ""
	}
	if actor.Subject == "" {
		return "\x00" // matches no call
	}
	return actor.Subject
}

// callerLive reports whether calls from n may verify now: n is, at this
// moment, an official number that places calls, and no blocklist entry
// matches it. off is n's record (for its generation) when ok. An error of
// the directory is returned, never a verdict.
func (s *Service) callerLive(ctx context.Context, n phone.Number) (off Official, ok bool, err error) {
	r, err := s.registrationOf(ctx, n)
	if err != nil || !r.live() {
		return Official{}, false, err
	}
	return r.off, true, nil
}

// callerVerifies reports whether call c may verify now as far as its
// caller goes: the caller is live (callerLive) under the registration the
// call was stamped under. A line deleted and registered again has a new
// generation, so its old calls stop verifying even before the store has
// marked them ended (a networked store ends them after the delete, in
// separate steps that may fail).
func (s *Service) callerVerifies(ctx context.Context, c Call) (bool, error) {
	off, ok, err := s.callerLive(ctx, c.Caller)
	return ok && sameRegistration(c, off), err
}

// getCall reads a call; an id that cannot be ours is "not found" without a
// store round trip.
func (s *Service) getCall(ctx context.Context, id string) (Call, error) {
	if !wellFormedID(id) {
		return Call{}, fault.NotFound(msgCallNotFound)
	}
	c, err := s.store.GetCall(ctx, id)
	if errors.Is(err, fault.ErrNotFound) {
		return Call{}, fault.Wrap(fault.ErrNotFound, msgCallNotFound, err)
	}
	return c, err
}

// getLiveCall reads a call as getCall does and, when eligible says the
// request may use it, whether it may verify now as far as its caller goes
// (callerVerifies). A call that is not eligible is returned with live
// false having cost what an unknown call costs: no further read, so it
// answers like one (no probing). A store that reads a call with its
// caller's record (CallLineReader) reads the call and the record of hint,
// the caller the request says the call is from, in one step; the call's
// own caller's record otherwise follows.
func (s *Service) getLiveCall(ctx context.Context, id string, hint phone.Number, eligible func(Call) bool) (c Call, live bool, err error) {
	clr, ok := s.store.(CallLineReader)
	if !ok {
		if c, err = s.getCall(ctx, id); err != nil || !eligible(c) {
			return c, false, err
		}
		live, err = s.callerVerifies(ctx, c)
		return c, live, err
	}
	if !wellFormedID(id) {
		return Call{}, false, fault.NotFound(msgCallNotFound)
	}
	c, line, err := clr.GetCallWithLine(ctx, id, hint)
	if errors.Is(err, fault.ErrNotFound) {
		return Call{}, false, fault.Wrap(fault.ErrNotFound, msgCallNotFound, err)
	}
	if err != nil || !eligible(c) {
		return c, false, err
	}
	if line.Number == "" || line.Number != c.Caller {
		if line, err = clr.CallerLine(ctx, c.Caller); err != nil {
			return Call{}, false, err
		}
	}
	r := registration{official: line.Registered}
	if line.Registered {
		r.off = Official{Number: c.Caller, PlacesCalls: line.PlacesCalls, InboundOnly: line.InboundOnly, Gen: line.Gen}
	}
	if r.category, r.blocked, err = s.dir.BlockedCategory(ctx, c.Caller); err != nil {
		return Call{}, false, err
	}
	return c, r.live() && sameRegistration(c, r.off), nil
}

// GetCall returns a call in any state, with State set to its effective
// state now. A dialer sees only the calls it stamped: any other answers
// exactly like an unknown call.
func (s *Service) GetCall(ctx context.Context, actor audit.Actor, id string) (Call, error) {
	c, err := s.getCall(ctx, id)
	if err != nil {
		return Call{}, err
	}
	if !mayRead(actor, c) {
		return Call{}, fault.NotFound(msgCallNotFound)
	}
	c.State = c.StateAt(s.now())
	return c, nil
}

// EndCall ends an active call; it stops verifying at once (audited as
// "call.end", in the same store step). Ending a call that is already
// ended, expired or locked changes nothing and returns it. A dialer ends
// only the calls it stamped: any other answers exactly like an unknown
// call.
func (s *Service) EndCall(ctx context.Context, actor audit.Actor, id string) (Call, error) {
	if !wellFormedID(id) {
		return Call{}, fault.NotFound(msgCallNotFound)
	}
	now := s.now()
	ev := s.audit.Event(actor, "call.end", id, map[string]any{"state": "ACTIVE"}, map[string]any{"state": "ENDED"})
	c, err := s.store.EndCall(ctx, id, ownerFilter(actor), now.UTC(), ev)
	if errors.Is(err, fault.ErrNotFound) {
		return Call{}, fault.Wrap(fault.ErrNotFound, msgCallNotFound, err)
	}
	if err != nil {
		return Call{}, err
	}
	c.State = c.StateAt(now)
	return c, nil
}

// GetConfirmationCode returns the code the agent reads out now and until
// when it is accepted. A call that is not active, whose caller is no longer
// an official number that places calls (or is blocked, or was registered again
// since the call was stamped), or that another dialer stamped has no code,
// and answers exactly like an unknown call.
func (s *Service) GetConfirmationCode(ctx context.Context, actor audit.Actor, id string) (string, time.Time, error) {
	now := s.now()
	c, live, err := s.getLiveCall(ctx, id, "", func(c Call) bool { return mayUse(actor, c) && c.StateAt(now) == StateActive })
	if err != nil {
		return "", time.Time{}, err
	}
	if !live {
		return "", time.Time{}, fault.NotFound(msgCallNotFound)
	}
	return s.codeNow(ctx, c, now)
}

// Page sizes of ListCalls.
const (
	defCallsPage = 100
	maxCallsPage = 1000
)

// ListCalls returns, for an admin, the live calls of the official line
// rawCaller (stored ACTIVE and not expired), one page at a time.
func (s *Service) ListCalls(ctx context.Context, rawCaller string, pageSize int, pageToken string) ([]Call, string, error) {
	caller, err := s.parseNumber("caller_number", rawCaller)
	if err != nil {
		return nil, "", err
	}
	switch {
	case pageSize < 0:
		return nil, "", fault.Invalid("page_size", "must not be negative")
	case pageSize == 0:
		pageSize = defCallsPage
	case pageSize > maxCallsPage:
		pageSize = maxCallsPage
	}
	now := s.now()
	calls, next, err := s.store.ListCallsFrom(ctx, caller, now.UTC(), pageToken, pageSize)
	if err != nil {
		return nil, "", err
	}
	for i := range calls {
		calls[i].State = calls[i].StateAt(now)
	}
	return calls, next, nil
}

// EndCalls ends every live call of the official line rawCaller in one
// store step, audited as "call.end_by_caller" with how many it ended, and
// returns that number.
func (s *Service) EndCalls(ctx context.Context, actor audit.Actor, rawCaller string) (int, error) {
	caller, err := s.parseNumber("caller_number", rawCaller)
	if err != nil {
		return 0, err
	}
	ev := s.audit.Event(actor, "call.end_by_caller", caller.String(), nil, nil)
	return s.store.EndCallsFrom(ctx, caller, s.now().UTC(), ev)
}
