package callback

import (
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// State is the life cycle of a request. The values are those of the API's
// CallbackState.
type State int

const (
	StateUnspecified State = iota
	// StateOpen waits in the queue for a dialer.
	StateOpen
	// StateClaimed is held by the dialer ClaimedBy until ClaimUntil.
	StateClaimed
	// StateCalled was answered by the call CallID (final).
	StateCalled
	// StateCancelled was withdrawn by the customer (final).
	StateCancelled
	// StateExpired was not answered before ExpireTime (final).
	StateExpired
)

func (s State) String() string {
	switch s {
	case StateOpen:
		return "OPEN"
	case StateClaimed:
		return "CLAIMED"
	case StateCalled:
		return "CALLED"
	case StateCancelled:
		return "CANCELLED"
	case StateExpired:
		return "EXPIRED"
	}
	return "UNSPECIFIED"
}

// Final reports whether nothing changes a request in state s any more.
func (s State) Final() bool { return s == StateCalled || s == StateCancelled || s == StateExpired }

// Reasons are the API's CallReason values (verify.Reason's): a request
// asks to be called back about one of them.
const (
	minReason = 1 // CALL_REASON_FOLLOW_UP
	maxReason = 7 // CALL_REASON_OTHER
	// ReasonMarketing is a reason nobody asks to be called back about.
	ReasonMarketing = 6
)

// ValidReason reports whether r is a reason a customer may ask about.
func ValidReason(r int) bool { return r >= minReason && r <= maxReason && r != ReasonMarketing }

// Window is when the customer would like to be called; zero for any time.
type Window struct {
	Start, End time.Time
}

// Request is one customer's request to be called back.
type Request struct {
	ID         string // 26 lower-case base32 characters (Store.NewRequestID)
	Customer   phone.Number
	CustomerID string // the requester's subject
	Reason     int    // a CallReason value
	OrderRef   string
	Window     Window
	Language   string // "zh-CN" or "en"

	// State is the stored state; use StateAt to decide.
	State      State
	CreateTime time.Time
	ExpireTime time.Time

	ClaimedBy  string    // the dialer's subject while claimed, and after it called
	ClaimTime  time.Time // zero unless claimed
	ClaimUntil time.Time // the claim lapses then and the request is open again

	CallID string // the call that answered it, once CALLED
	// FinalTime is when it became CALLED, CANCELLED or EXPIRED (zero
	// before): retention counts from it.
	FinalTime time.Time
}

// StateAt is the request's effective state at now: an open or claimed
// request past its ExpireTime is EXPIRED, and a claim past its ClaimUntil
// has lapsed, so the request is OPEN again, with no sweeper.
func (r Request) StateAt(now time.Time) State {
	switch r.State {
	case StateOpen, StateClaimed:
		if !now.Before(r.ExpireTime) {
			return StateExpired
		}
		if r.State == StateClaimed && !now.Before(r.ClaimUntil) {
			return StateOpen
		}
	}
	return r.State
}

// Waiting reports whether the request is still to be answered at now: open
// or claimed, not expired.
func (r Request) Waiting(now time.Time) bool {
	s := r.StateAt(now)
	return s == StateOpen || s == StateClaimed
}

// ClaimedByAt reports whether dialer by holds the claim on r at now.
func (r Request) ClaimedByAt(by string, now time.Time) bool {
	return by != "" && r.StateAt(now) == StateClaimed && r.ClaimedBy == by
}
