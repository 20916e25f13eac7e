package verify

import (
	"context"
	"sort"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
)

// Reason says why the platform calls the customer. The values are those of
// the API's CallReason.
type Reason int

const (
	ReasonUnspecified Reason = iota
	ReasonFollowUp
	ReasonAfterSales
	ReasonRefund
	ReasonDelivery
	ReasonAccountSecurity
	ReasonMarketing
	ReasonOther
)

// Valid reports whether r is a reason a call may be stamped with.
func (r Reason) Valid() bool { return r >= ReasonFollowUp && r <= ReasonOther }

// State is the life cycle of a call. The values are those of the API's
// CallState. Only StateActive verifies.
type State int

const (
	StateUnspecified State = iota
	StateActive
	StateEnded
	StateExpired
	StateLocked
)

func (s State) String() string {
	switch s {
	case StateActive:
		return "ACTIVE"
	case StateEnded:
		return "ENDED"
	case StateExpired:
		return "EXPIRED"
	case StateLocked:
		return "LOCKED"
	}
	return "UNSPECIFIED"
}

// Call is one stamped outbound call.
type Call struct {
	ID          string // 26 lower-case base32 characters from Store.NewCallID (at least 80 random bits); the token's jti
	Caller      phone.Number
	Callee      phone.Number
	CustomerID  string
	Reason      Reason
	ReasonText  string
	OrderRef    string
	AgentID     string
	AgentName   string
	DisplayName string // the official number's display name when stamped (rcd.nam)
	OrigID      string // RFC 8588 origid, a UUID
	CreateBy    string // subject of the dialer that stamped the call
	// Gen is the generation (Official.Gen) of the caller's official record
	// when the call was stamped, set by the store's CreateCall from the
	// record it checks (StampCall passes the one its display name came
	// from, and CreateCall refuses another; a record without one is not
	// held to it); "" means unknown (a call stored before stores kept
	// one). The call verifies only under that same registration.
	Gen string

	// State is the stored state: ACTIVE, ENDED or LOCKED. A stored ACTIVE
	// call past ExpireTime is EXPIRED: use StateAt, never State, to decide.
	State         State
	WrongAttempts int
	CreateTime    time.Time
	ExpireTime    time.Time
	EndTime       time.Time // zero unless ENDED

	// LastCodeStep is the TOTP time step (Unix time / CodePeriod) of the
	// latest code the customer confirmed, 0 for none: a code is used up
	// once it matched, so only a later step's code can match again.
	LastCodeStep int64
	// ConfirmTime is when a code last matched (zero for never).
	ConfirmTime time.Time

	// DeviceID names the customer's device whose secret makes this call's
	// codes ("" for none); when that device is gone, SealedSecret does.
	DeviceID string
	// SealedSecret is the per-call TOTP secret, encrypted with the KEK.
	SealedSecret []byte

	// CallbackRequestID is the customer's callback request this call
	// answers ("" for none), set only by CreateCallbackCall.
	CallbackRequestID string
}

// StateAt is the call's effective state at now: a stored ACTIVE call past
// its expire time is EXPIRED at once, with no sweeper.
func (c Call) StateAt(now time.Time) State {
	if c.State == StateActive && !now.Before(c.ExpireTime) {
		return StateExpired
	}
	return c.State
}

// Device is an authenticator a customer enrolled.
type Device struct {
	ID           string
	Customer     phone.Number
	Label        string
	SealedSecret []byte // TOTP secret, encrypted with the KEK
	CreateTime   time.Time
}

// Preferences are a customer's choices.
type Preferences struct {
	MarketingCallsAllowed bool
	UpdateTime            time.Time
}

// defaultPreferences apply to a customer who never set any.
var defaultPreferences = Preferences{MarketingCallsAllowed: true}

// KeyState is a signing key's life cycle.
type KeyState int

const (
	KeyStateUnspecified KeyState = iota
	// KeyCurrent signs new tokens. Exactly one key is current once any exists.
	KeyCurrent
	// KeyRetired no longer signs; it is published until PublishUntil.
	KeyRetired
)

// SigningKey is a call-token signing key as stored.
type SigningKey struct {
	ID            string // RFC 7638 thumbprint of the public JWK
	Algorithm     string // "ES256" or "EdDSA"
	State         KeyState
	CreateTime    time.Time
	RetireTime    time.Time // zero while current
	PublishUntil  time.Time // zero while current
	PublicJWK     []byte    // the public key as a JWK (JSON object)
	SealedPrivate []byte    // PKCS #8, encrypted with the KEK, the key id as AAD
}

// SortSigningKeys orders keys as Store.ListSigningKeys promises: the
// current key first, then the most recently retired. Creation times alone
// cannot tell a rotation made in the same clock tick, so the id breaks ties.
func SortSigningKeys(keys []SigningKey) {
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if (a.State == KeyCurrent) != (b.State == KeyCurrent) {
			return a.State == KeyCurrent
		}
		if !a.RetireTime.Equal(b.RetireTime) {
			return a.RetireTime.After(b.RetireTime)
		}
		if !a.CreateTime.Equal(b.CreateTime) {
			return a.CreateTime.After(b.CreateTime)
		}
		return a.ID > b.ID
	})
}

// PublishedAt reports whether tokens signed with k may still be live at now.
func (k SigningKey) PublishedAt(now time.Time) bool {
	return k.State == KeyCurrent || (k.State == KeyRetired && now.Before(k.PublishUntil))
}

// Official is what the numbers domain knows about one of the platform's
// numbers.
type Official struct {
	Number      phone.Number
	DisplayName string
	PlacesCalls bool // OUTBOUND or BOTH
	InboundOnly bool // INBOUND_ONLY: a hotline that never calls anybody
	// Gen is the generation of the number's record (blocklist's
	// OfficialNumber.Gen): new whenever it is registered again. "" means
	// unknown.
	Gen string
}

// sameRegistration reports whether call c was stamped under the caller's
// registration off: their generations are equal, or one is unknown (then
// only the other checks decide).
func sameRegistration(c Call, off Official) bool {
	return c.Gen == "" || off.Gen == "" || c.Gen == off.Gen
}

// CallerLine is a caller's official record as LineReader reads it.
type CallerLine struct {
	Number      phone.Number // whose record it is (CallLineReader; "" from LineReader)
	Registered  bool
	PlacesCalls bool
	InboundOnly bool
	Gen         string
}

// LineReader is what a Store may also implement so that the check of a
// live line costs fewer round trips on a networked store: ListCallsTo, and
// the caller's official record (the Store keeps the official numbers too)
// as it stands at the moment of reading, read together.
type LineReader interface {
	ListCallsToWithLine(ctx context.Context, callee, caller phone.Number, after time.Time, limit int) ([]Call, CallerLine, error)
}

// CallLineReader is what a Store may also implement so that reading a call
// and deciding whether its caller still verifies costs fewer store steps:
// the call, as GetCall reads it, with the official record of the caller
// the request expects, read together; and a caller's record alone.
type CallLineReader interface {
	// GetCallWithLine returns call id and, read with it, an official
	// record: the record's Number says whose it is, "" when none was
	// read. A store that reads both in one transaction returns the
	// call's own caller's record; a networked store reads caller's (the
	// caller the request expects, a call token's orig), none when caller
	// is "". A record that could not be read is left out (Number ""), not
	// an error: whether the request may use the call is decided first.
	GetCallWithLine(ctx context.Context, id string, caller phone.Number) (Call, CallerLine, error)
	// CallerLine returns n's official record as it stands at the moment
	// of reading (Number n).
	CallerLine(ctx context.Context, n phone.Number) (CallerLine, error)
}

// Directory answers what the numbers domain knows about a number.
type Directory interface {
	// OfficialNumber returns the official number, as the store has it at
	// the moment of asking, or an error wrapping fault.ErrNotFound.
	OfficialNumber(ctx context.Context, n phone.Number) (Official, error)
	// BlockedCategory returns the blocklist category name (e.g. "CATEGORY_SCAM") when n matches an active entry.
	BlockedCategory(ctx context.Context, n phone.Number) (category string, blocked bool, err error)
}

// IndexedDirectory is a Directory that also answers OfficialNumber from
// memory, without a store round trip, as it answers BlockedCategory. What
// it says may lag the store by a moment (a number registered or deleted on
// another instance an instant ago), so the calls domain uses it only for
// answers that lag may not make unsafe: every verdict but VERIFIED, and
// whether to look for a caller's calls at all. A VERIFIED verdict is
// always decided on OfficialNumber. While its memory cannot be kept
// current it answers an error wrapping fault.ErrUnavailable.
type IndexedDirectory interface {
	Directory
	IndexedOfficialNumber(n phone.Number) (Official, error)
}

// Store keeps the calls domain's state. Every method is one atomic step, so
// that a networked backend can do each in one transaction or script. Errors
// wrap the fault sentinels (fault.ErrNotFound, fault.ErrAlreadyExists,
// fault.ErrConflict, fault.ErrFailedPrecondition, fault.ErrResourceExhausted,
// fault.ErrUnavailable); a store that cannot be reached must say
// fault.ErrUnavailable, never "no data". Customers are named by their
// phone.Number; the implementation derives its keys from it in one place
// (so that they can be HMAC'd).
//
// A method that changes state takes its audit event(s) and appends them in
// the same atomic step as the change: both commit or neither does, and a
// refused change appends nothing. The store assigns the events' IDs.
//
// The backend keeps the calls together with the official numbers of the
// numbers domain (blocklist.Store), so that stamping can check the caller
// and deleting an official number can end its calls, each in one step.
// Implementations must pass storetest.Run.
type Store interface {
	// NewCallID returns a fresh call id for a call to callee: 26 lower-case
	// base32 characters (what wellFormedID accepts), at least 80 of its
	// bits random. A sharded backend puts the callee's shard in it, so
	// that GetCall finds the call from the id alone; an ordered one may
	// put the time first, so that new calls are stored side by side.
	NewCallID(callee phone.Number) string
	// CreateCall stores a new call and appends ev. It fails with
	// fault.ErrFailedPrecondition when c.Caller is not, at that moment, a
	// registered official number that places calls (OUTBOUND or BOTH), and
	// with fault.ErrAlreadyExists when the ID is taken. c.Gen, when set,
	// is the generation the stamp was prepared under (its display name
	// came from that record): a record of another generation refuses the
	// call the same way. The stored call's Gen is the generation of the
	// official record it checked; GetCall, ListCallsTo and ListCallsFrom
	// return it.
	CreateCall(ctx context.Context, c Call, ev audit.Event) error
	// CreateCallbackCall stores c like CreateCall, as the answer to the
	// callback request c.CallbackRequestID, in the same atomic step: the
	// request must be, at c.CreateTime, claimed by c.CreateBy (the claim
	// not lapsed, the request not expired: callback.Request.ClaimedByAt)
	// and be the request of c.Callee; it becomes CALLED with c.ID (its
	// FinalTime c.CreateTime) and answered is appended after ev. When the
	// request is anything else (unknown, another dialer's or a lapsed
	// claim, another customer's, answered already) it fails with
	// fault.ErrConflict and writes nothing, so a request is answered by at
	// most one call. The caller check is CreateCall's
	// (fault.ErrFailedPrecondition).
	CreateCallbackCall(ctx context.Context, c Call, ev, answered audit.Event) error
	// GetCall returns the call or fault.ErrNotFound.
	GetCall(ctx context.Context, id string) (Call, error)
	// ListCallsTo returns the calls to callee that are stored ACTIVE (not
	// ended or locked) and whose ExpireTime is after after, latest expiry
	// first, at most limit. Ended and locked calls must not count against
	// the limit, or they could push a live call out of the answer.
	ListCallsTo(ctx context.Context, callee phone.Number, after time.Time, limit int) ([]Call, error)
	// ListCallsFrom returns the calls from caller that are stored ACTIVE
	// and whose ExpireTime is after now, earliest expiry first, at most
	// limit, after the store's opaque cursor ("" for the start), and the
	// cursor of the next page ("" at the end).
	ListCallsFrom(ctx context.Context, caller phone.Number, now time.Time, cursor string, limit int) ([]Call, string, error)
	// EndCall sets a call ENDED at at when it is stored ACTIVE and not
	// expired at at, appending ev then (and only then), and returns the
	// call as it is after (changed or not). When by is not "", only a call
	// stamped by that subject (Call.CreateBy) may be ended: any other is
	// fault.ErrNotFound, like a call that does not exist.
	EndCall(ctx context.Context, id, by string, at time.Time, ev audit.Event) (Call, error)
	// EndCallsFrom sets ENDED at at every call from caller that is stored
	// ACTIVE and not expired at at, and appends ev with After["ended_calls"]
	// set to how many it ended (After is created when nil). It returns that
	// number.
	EndCallsFrom(ctx context.Context, caller phone.Number, at time.Time, ev audit.Event) (int, error)
	// RecordCodeAttempt decides one confirmation attempt atomically. step is
	// the TOTP step the code matched (0: it matched none). When the call
	// is not stored ACTIVE, is expired at now, or already has limit wrong
	// attempts, it fails with fault.ErrConflict and changes nothing.
	// Otherwise the attempt matches when step is later than the call's
	// LastCodeStep: the step becomes LastCodeStep and now ConfirmTime, so
	// the code is used up. Any other attempt (no match, or a code used
	// already) counts as wrong and, when it reaches limit, sets the call
	// LOCKED and appends lock (only that attempt does). A match appends
	// confirm: using a code up is a change, audited like any other. It
	// returns the call as it is after the attempt and whether it matched;
	// fault.ErrNotFound when there is no such call.
	RecordCodeAttempt(ctx context.Context, id string, step int64, limit int, now time.Time, lock, confirm audit.Event) (Call, bool, error)
	// PruneCalls is housekeeping: it deletes up to limit calls whose
	// ExpireTime is before before, in any state, with everything that
	// finds them (ListCallsTo, ListCallsFrom and EndCallsFrom never meet
	// one again), and returns how many it deleted. The retention counts
	// from the expiry: an ended or locked call ended before it expired, so
	// it is kept at least as long after its end, and no token of a call
	// verifies after the call's expiry (VerifyToken refuses the expired
	// token before it reads the call), so a pruned call is one nobody can
	// use any more. When it deleted any, it appends ev with
	// After["pruned_calls"] set to how many (After is created when nil), in
	// the same atomic step; when none, it appends nothing. Each call is
	// one bounded step, so the sweeper calls it again while it returns
	// limit.
	//
	// A backend with native expiry (Redis keys with a TTL of the expiry
	// plus its retention) may delete calls by itself instead and make this
	// a no-op that returns 0: what the suite checks is that a call past its
	// retention is gone (GetCall says fault.ErrNotFound) and that a call
	// within it is untouched, not which of the two removed it.
	PruneCalls(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error)

	// CreateDevice stores d and appends ev unless its customer already has
	// limit devices (fault.ErrResourceExhausted) or the ID is taken
	// (fault.ErrAlreadyExists).
	CreateDevice(ctx context.Context, d Device, limit int, ev audit.Event) error
	// GetDevice returns the customer's device or fault.ErrNotFound (also
	// when the device belongs to somebody else).
	GetDevice(ctx context.Context, customer phone.Number, id string) (Device, error)
	// ListDevices returns the customer's devices, newest first.
	ListDevices(ctx context.Context, customer phone.Number) ([]Device, error)
	// DeleteDevice removes the customer's device and appends ev, or fails
	// with fault.ErrNotFound (also when the device belongs to somebody
	// else).
	DeleteDevice(ctx context.Context, customer phone.Number, id string, ev audit.Event) error

	// GetPreferences returns the customer's preferences or fault.ErrNotFound
	// when they never set any.
	GetPreferences(ctx context.Context, customer phone.Number) (Preferences, error)
	// PutPreferences replaces the customer's preferences and appends ev.
	PutPreferences(ctx context.Context, customer phone.Number, p Preferences, ev audit.Event) error

	// ListSigningKeys returns every stored signing key: the current one
	// first, then the retired ones, the most recently retired first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RotateSigningKey is a compare-and-swap: when the current key's ID is
	// expectCurrent ("" meaning no key exists yet), it stores next as the
	// only KeyCurrent key, retires the previous one with retireTime and
	// publishUntil, and appends ev; otherwise it fails with
	// fault.ErrConflict and changes nothing. next.ID must be new
	// (fault.ErrAlreadyExists).
	RotateSigningKey(ctx context.Context, expectCurrent string, next SigningKey, retireTime, publishUntil time.Time, ev audit.Event) error
}
