package verify

import (
	"context"
	"errors"
	"time"

	"github.com/callverify/callverify/internal/phone"
)

// EventType says what happened to a call. The values are those of the
// API's CallEventType.
type EventType int

const (
	EventUnspecified EventType = iota
	EventStamped
	EventConfirmed
	EventLocked
	EventEnded
	// EventExpired is never stored: expiry writes nothing, so the watch
	// derives it from the call's expire time.
	EventExpired
	// EventHeartbeat and EventReset are the stream's own: never stored.
	EventHeartbeat
	EventReset
)

func (t EventType) String() string {
	switch t {
	case EventStamped:
		return "STAMPED"
	case EventConfirmed:
		return "CONFIRMED"
	case EventLocked:
		return "LOCKED"
	case EventEnded:
		return "ENDED"
	case EventExpired:
		return "EXPIRED"
	case EventHeartbeat:
		return "HEARTBEAT"
	case EventReset:
		return "RESET"
	}
	return "UNSPECIFIED"
}

// CallEvent is one change to one call as the store's outbox keeps it: what
// happened, when, and to which call. It never holds a code or a number; the
// card is built when the event is delivered, from the call as it is then.
type CallEvent struct {
	// ID is the event's position in the customer's feed: opaque to
	// everybody but the store, increasing, and what a watch resumes after.
	ID     string
	Type   EventType
	Time   time.Time
	CallID string
}

// EventPage is a read of a customer's feed.
type EventPage struct {
	Events []CallEvent
	// Next is where the next read continues: at or after the last event's
	// ID (a store that files many customers' events together may have
	// looked further without finding one of theirs).
	Next string
	// More is true when the read stopped before the end of the feed.
	More bool
	// SinceTime is the time of position since, zero when the store cannot
	// tell.
	SinceTime time.Time
}

// ErrCursorGone is EventLog.EventsAfter's answer to a position it cannot
// resume from: older than the retention window, or never one of its own.
var ErrCursorGone = errors.New("the event position is gone or unknown")

// EventLog is the outbox of call events. A Store that implements it appends,
// in the same atomic step as the change (so that both commit or neither
// does), a STAMPED event in CreateCall, a CONFIRMED event for an attempt
// that matches and a LOCKED event for the one that locks in
// RecordCodeAttempt, and an ENDED event for every call EndCall, EndCallsFrom
// or the deletion of its official line ends. Each event is filed under the
// call's callee, in whatever form the store keys customers by.
type EventLog interface {
	// EventsHead returns the position of the customer's feed now: the
	// events still to come are the ones after it.
	EventsHead(ctx context.Context, customer phone.Number) (string, error)
	// EventsAfter returns up to limit of the customer's events after
	// position since, oldest first. A position the store cannot resume
	// from (older than its retention, or not one it made) is
	// ErrCursorGone.
	EventsAfter(ctx context.Context, customer phone.Number, since string, limit int) (EventPage, error)
	// SubscribeEvents returns a channel that receives when the customer's
	// feed may have grown, on this instance or any other sharing the
	// store, and the function that ends the subscription. A wake-up
	// carries nothing and may be coalesced or, rarely, lost: a watcher
	// also looks again now and then.
	SubscribeEvents(customer phone.Number) (<-chan struct{}, func())
	// PruneEvents deletes up to limit events older than before and returns
	// how many (the retention sweeper's PruneFunc, less the audit event:
	// pruning the outbox is not a change anybody made). A backend that
	// trims by itself (a Redis stream's MINID) may return 0.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
}
