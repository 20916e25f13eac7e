package callback

import (
	"context"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/phone"
)

// Store keeps the callback requests. Every method is one atomic step, so
// that a networked backend can do each in one transaction or script. Errors
// wrap the fault sentinels; a store that cannot be reached says
// fault.ErrUnavailable, never "no data". Customers are named by their
// phone.Number; the implementation derives its keys from it in one place
// (so that they can be HMAC'd).
//
// A method that changes state takes its audit event(s) and appends them in
// the same atomic step: both commit or neither does, and a refused change
// appends nothing. The backend keeps the requests with the calls of the
// calls domain (verify.Store), so that a call can answer a request in one
// step (verify.Store.CreateCallbackCall). Implementations must pass
// storetest.Run.
type Store interface {
	// NewRequestID returns a fresh request id for customer: 26 lower-case
	// base32 characters, at least 118 of its bits random. A sharded
	// backend puts the customer's shard in it (as verify.Store.NewCallID).
	NewRequestID(customer phone.Number) string
	// CreateRequest stores r (State OPEN) and appends ev, unless its
	// customer already has maxOpen requests waiting at r.CreateTime (open
	// or claimed, not expired: Request.Waiting), which is
	// fault.ErrResourceExhausted, or the id is taken
	// (fault.ErrAlreadyExists).
	CreateRequest(ctx context.Context, r Request, maxOpen int, ev audit.Event) error
	// GetRequest returns the request or fault.ErrNotFound.
	GetRequest(ctx context.Context, id string) (Request, error)
	// ListByCustomer returns the customer's requests in any state, newest
	// first, at most limit.
	ListByCustomer(ctx context.Context, customer phone.Number, limit int) ([]Request, error)
	// QueuePosition returns 1 + how many requests waiting at now (open or
	// claimed, not expired) were made before request id (by CreateTime,
	// then id): its place in the queue, 1 being next. It is 0 for a request
	// that is not OPEN at now, fault.ErrNotFound for none.
	QueuePosition(ctx context.Context, id string, now time.Time) (int, error)
	// CountWaiting returns how many requests the queue holds: stored OPEN
	// or CLAIMED (one that passed its expiry counts until ExpireRequests
	// marks it), without reading them. It is what the metric of callbacks
	// waiting shows, cheap enough for every scrape.
	CountWaiting(ctx context.Context) (int, error)
	// ListOpen returns the requests OPEN at now (StateAt), oldest first
	// (CreateTime, then id), of the given reason (0: any), at most limit,
	// after the store's opaque cursor ("" for the start), and the cursor of
	// the next page ("" at the end). A page may hold fewer than limit and
	// still have a next one (a backend bounds what one page examines).
	ListOpen(ctx context.Context, now time.Time, reason int, cursor string, limit int) ([]Request, string, error)
	// Claim gives request id to dialer by until until when it is OPEN at
	// now (a lapsed claim counts as OPEN), appending ev (and, when it takes
	// over a lapsed claim, released first). It returns the request as
	// after. fault.ErrNotFound when there is no such request;
	// fault.ErrConflict, changing nothing, when it is not OPEN at now.
	Claim(ctx context.Context, id, by string, now, until time.Time, ev, released audit.Event) (Request, error)
	// Cancel sets the customer's request CANCELLED at now when it is
	// waiting at now, appending ev, and returns it as after. Anybody
	// else's request, an unknown one, or one not waiting is
	// fault.ErrNotFound alike, changing nothing.
	Cancel(ctx context.Context, id string, customer phone.Number, now time.Time, ev audit.Event) (Request, error)
	// ExpireRequests sets EXPIRED up to limit requests still stored OPEN
	// or CLAIMED whose ExpireTime is not after now, with FinalTime their
	// ExpireTime, and returns how many. When it expired any, it appends ev
	// with After["expired_callbacks"] set to that number (After is created
	// when nil) and After["request_ids"] to their ids, in the same step. A
	// backend whose requests live in several partitions expires each
	// partition's in one step and appends one event per partition it
	// changed, with that partition's count and ids.
	ExpireRequests(ctx context.Context, now time.Time, limit int, ev audit.Event) (int, error)
	// PruneRequests deletes up to limit final requests (CALLED, CANCELLED,
	// EXPIRED) whose FinalTime is before before, with everything that finds
	// them, and appends ev with After["pruned_callbacks"] when it deleted
	// any. A backend with native expiry (Redis TTLs of FinalTime plus the
	// retention) may make it a no-op that returns 0: the suite checks that
	// a request past its retention is gone and one within it is not.
	PruneRequests(ctx context.Context, before time.Time, limit int, ev audit.Event) (int, error)
}
