// Package audit is the append-only record of every analyst and admin
// mutation (and of security events such as a call locked by wrong codes).
//
// Events are never edited or deleted through any API. They must not hold
// secrets (keys, codes, tokens); phone numbers of customers are masked.
package audit

import (
	"context"
	"time"
)

// Actor is who did something: the token's subject and role.
type Actor struct {
	Subject string
	Role    string
}

// System is the actor for what the service does by itself.
var System = Actor{Subject: "callverify", Role: "system"}

// Event is one audit record. Before and After are JSON-like snapshots
// (map[string]any) of the target, nil when there was none.
type Event struct {
	ID     string
	Time   time.Time
	Actor  string
	Role   string
	Action string // e.g. "official_number.create", "entry.update", "call.lock"
	Target string // e.g. an entry id or an E.164 official number
	Before map[string]any
	After  map[string]any
}

// Filter selects events; empty fields match everything.
type Filter struct {
	Actor  string
	Action string
}

// Store keeps events. Append assigns ID when empty and must be durable on
// return. List returns events newest first, at most limit, after the opaque
// cursor (empty = from the newest), and the cursor of the next page ("" at
// the end).
type Store interface {
	AppendAuditEvent(ctx context.Context, e Event) (Event, error)
	ListAuditEvents(ctx context.Context, f Filter, limit int, cursor string) ([]Event, string, error)
}

// Recorder appends events for one clock.
type Recorder struct {
	store Store
	now   func() time.Time
}

// NewRecorder returns a recorder that stamps events with now().
func NewRecorder(s Store, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{store: s, now: now}
}

// Event returns the event of actor doing action to target now, for a
// store method that appends it in the same atomic step as the change it
// records (a mutation and its record commit together or not at all). The
// store assigns ID.
func (r *Recorder) Event(a Actor, action, target string, before, after map[string]any) Event {
	return Event{
		Time:   r.now().UTC(),
		Actor:  a.Subject,
		Role:   a.Role,
		Action: action,
		Target: target,
		Before: before,
		After:  after,
	}
}

// Record appends one event by actor on its own. Use it only for events
// that record no change of state (a mutation's event goes into the
// mutation's own store step: see Event).
func (r *Recorder) Record(ctx context.Context, a Actor, action, target string, before, after map[string]any) error {
	_, err := r.store.AppendAuditEvent(ctx, r.Event(a, action, target, before, after))
	return err
}

// List lists events through the store.
func (r *Recorder) List(ctx context.Context, f Filter, limit int, cursor string) ([]Event, string, error) {
	return r.store.ListAuditEvents(ctx, f, limit, cursor)
}
