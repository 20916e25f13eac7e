package verify

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// DefaultHeartbeat is how often an idle watch says it is alive.
const DefaultHeartbeat = 15 * time.Second

// eventBatch bounds the events read from the log at once.
const eventBatch = 100

// WatchOptions shape one watch.
type WatchOptions struct {
	// Since resumes after this event id ("" starts with the customer's
	// live cards as STAMPED events).
	Since string
	// Heartbeat is how often the watch sends a HEARTBEAT, and looks at the
	// log and the cards' expiry even when nothing woke it (default
	// DefaultHeartbeat).
	Heartbeat time.Duration
	// Language of the cards' words ("zh-CN" by default, or "en").
	Language string
}

// WatchEvent is what the watch sends: an event with its card.
type WatchEvent struct {
	// ID is what to resume after; "" on heartbeats and resets.
	ID   string
	Type EventType
	Time time.Time
	// Card is set but on HEARTBEAT and RESET. On STAMPED and CONFIRMED it
	// is the card exactly as ListMyCalls makes it, code included. On
	// LOCKED, ENDED and EXPIRED it only says which card to take down: its
	// Call holds the call's id, state and times, and nothing else.
	Card *MyCall
}

// errNoEventLog answers a watch on a store that keeps no events.
var errNoEventLog = fault.New(fault.ErrFailedPrecondition, "live call cards are not available on this server")

// WatchMyCalls streams the changes to the calls of customer (the number
// of their token) to send until ctx is done or send fails. It starts with
// the live cards as STAMPED events (or, given Since, with every event after
// it, and EXPIRED for the cards that expired meanwhile); a position it
// cannot resume from gets a RESET and then the live cards. Events come
// from the store's outbox; EXPIRED is derived from the cards' expire
// times, read on the service's clock. A card goes through the checks of
// ListMyCalls when it is sent, so the stream never shows a card the list
// would not.
func (s *Service) WatchMyCalls(ctx context.Context, customer phone.Number, opt WatchOptions, send func(WatchEvent) error) error {
	if s.events == nil {
		return errNoEventLog
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = DefaultHeartbeat
	}
	// Subscribe first: a change made while the start is read is then
	// either in what is read or wakes the loop.
	wake, stop := s.events.SubscribeEvents(customer)
	defer stop()
	// A HEARTBEAT first: the client knows the stream is open before any
	// card comes (a refused stream ends with its error instead).
	if err := send(WatchEvent{Type: EventHeartbeat, Time: s.now().UTC()}); err != nil {
		return err
	}
	w := &watch{s: s, customer: customer, lang: ParseLanguage(opt.Language), send: send, shown: map[string]Call{}}
	if err := w.start(ctx, opt.Since); err != nil {
		return err
	}
	beat := time.NewTicker(opt.Heartbeat)
	defer beat.Stop()
	expiry := time.NewTimer(w.untilExpiry(opt.Heartbeat))
	defer expiry.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-expiry.C:
		case <-beat.C:
			if err := send(WatchEvent{Type: EventHeartbeat, Time: s.now().UTC()}); err != nil {
				return err
			}
		}
		if err := w.catchUp(ctx); err != nil {
			return err
		}
		if err := w.expire(ctx); err != nil {
			return err
		}
		expiry.Reset(w.untilExpiry(opt.Heartbeat))
	}
}

// watch is one watch's state.
type watch struct {
	s        *Service
	customer phone.Number
	lang     Language
	send     func(WatchEvent) error
	// pos is the log position sent last: what the client resumes after.
	pos string
	// scan is where the next read of the log continues (at or after pos).
	scan string
	// shown are the active cards the client holds, by call id, to take
	// down with EXPIRED when their time runs out.
	shown map[string]Call
}

// start sends what a new watch begins with and sets its position.
func (w *watch) start(ctx context.Context, since string) error {
	if since == "" {
		return w.snapshot(ctx)
	}
	page, err := w.s.events.EventsAfter(ctx, w.customer, since, eventBatch)
	if errors.Is(err, ErrCursorGone) {
		if err := w.send(WatchEvent{Type: EventReset, Time: w.s.now().UTC()}); err != nil {
			return err
		}
		return w.snapshot(ctx)
	}
	if err != nil {
		return err
	}
	w.pos, w.scan = since, page.Next
	taken := map[string]bool{}
	if err := w.deliver(ctx, page.Events, taken); err != nil {
		return err
	}
	if page.More {
		if err := w.catchUp(ctx); err != nil {
			return err
		}
	}
	// The cards the client holds from before its position are the live
	// ones it was not just sent: note them, for their expiry.
	now := w.s.now()
	live := liveCallers{}
	calls, err := w.s.store.ListCallsTo(ctx, w.customer, now, maxListedCalls)
	if err != nil {
		return err
	}
	for _, c := range calls {
		if _, seen := w.shown[c.ID]; seen {
			continue
		}
		if _, ok, err := w.s.myCall(ctx, w.customer, c, now, w.lang, live); err != nil {
			return err
		} else if ok {
			w.shown[c.ID] = c
		}
	}
	// Expiry writes nothing: the cards that expired while the client was
	// away are found by their expire time, after the position's time.
	floor := now.Add(-MaxTTL)
	if page.SinceTime.After(floor) {
		floor = page.SinceTime
	}
	gone, err := w.s.store.ListCallsTo(ctx, w.customer, floor, maxListedCalls)
	if err != nil {
		return err
	}
	for i := len(gone) - 1; i >= 0; i-- { // earliest expiry first
		c := gone[i]
		if taken[c.ID] || c.StateAt(now) != StateExpired {
			continue
		}
		// Only a card the list would have shown before it expired.
		if ok, err := w.wasShown(ctx, c, live); err != nil {
			return err
		} else if !ok {
			continue
		}
		if err := w.send(w.takeDown(EventExpired, w.pos, c.ExpireTime, c)); err != nil {
			return err
		}
	}
	return nil
}

// wasShown reports whether the list showed c before it expired: its
// caller is still live under the call's registration.
func (w *watch) wasShown(ctx context.Context, c Call, live liveCallers) (bool, error) {
	before := c
	before.State = StateActive
	_, ok, err := w.s.myCall(ctx, w.customer, before, c.ExpireTime.Add(-time.Nanosecond), w.lang, live)
	return ok, err
}

// snapshot starts from the log's head with the live cards as STAMPED.
func (w *watch) snapshot(ctx context.Context) error {
	head, err := w.s.events.EventsHead(ctx, w.customer)
	if err != nil {
		return err
	}
	w.pos, w.scan = head, head
	now := w.s.now()
	calls, err := w.s.store.ListCallsTo(ctx, w.customer, now, maxListedCalls)
	if err != nil {
		return err
	}
	// Oldest first, as events come. Stamps of the same second have no
	// order the store keeps: they come by call id, so a reconnect shows
	// them as the last one did.
	slices.SortFunc(calls, func(a, b Call) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
	})
	live := liveCallers{}
	for _, c := range calls {
		mc, ok, err := w.s.myCall(ctx, w.customer, c, now, w.lang, live)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		w.shown[mc.Call.ID] = mc.Call
		if err := w.send(WatchEvent{ID: head, Type: EventStamped, Time: mc.Call.CreateTime, Card: &mc}); err != nil {
			return err
		}
	}
	return nil
}

// catchUp sends every event after the watch's position.
func (w *watch) catchUp(ctx context.Context) error {
	for {
		page, err := w.s.events.EventsAfter(ctx, w.customer, w.scan, eventBatch)
		if errors.Is(err, ErrCursorGone) {
			// Fell behind the retention window while connected (a stalled
			// client): start over.
			w.shown = map[string]Call{}
			if err := w.send(WatchEvent{Type: EventReset, Time: w.s.now().UTC()}); err != nil {
				return err
			}
			return w.snapshot(ctx)
		}
		if err != nil {
			return err
		}
		if err := w.deliver(ctx, page.Events, nil); err != nil {
			return err
		}
		w.scan = page.Next
		if !page.More {
			return nil
		}
	}
}

// deliver sends evs with their cards as they are now, noting in taken (when
// not nil) the calls taken down.
func (w *watch) deliver(ctx context.Context, evs []CallEvent, taken map[string]bool) error {
	live := liveCallers{}
	for _, e := range evs {
		w.pos = e.ID
		c, err := w.s.store.GetCall(ctx, e.CallID)
		if errors.Is(err, fault.ErrNotFound) {
			c, err = Call{ID: e.CallID}, nil
		}
		if err != nil {
			return err
		}
		switch e.Type {
		case EventStamped, EventConfirmed:
			if _, seen := w.shown[c.ID]; seen && e.Type == EventStamped {
				continue // sent already, by the snapshot
			}
			mc, ok, err := w.s.myCall(ctx, w.customer, c, w.s.now(), w.lang, live)
			if err != nil {
				return err
			}
			if !ok {
				// Not a card now: ended, locked, expired (each told in
				// its turn), or its caller is no longer live.
				continue
			}
			w.shown[c.ID] = c
			if err := w.send(WatchEvent{ID: e.ID, Type: e.Type, Time: e.Time, Card: &mc}); err != nil {
				return err
			}
		case EventLocked, EventEnded:
			delete(w.shown, c.ID)
			if taken != nil {
				taken[c.ID] = true
			}
			if err := w.send(w.takeDown(e.Type, e.ID, e.Time, c)); err != nil {
				return err
			}
		}
	}
	return nil
}

// expire takes down the shown cards whose time has run out.
func (w *watch) expire(context.Context) error {
	now := w.s.now()
	for id, c := range w.shown {
		if now.Before(c.ExpireTime) {
			continue
		}
		delete(w.shown, id)
		if err := w.send(w.takeDown(EventExpired, w.pos, c.ExpireTime, c)); err != nil {
			return err
		}
	}
	return nil
}

// untilExpiry is how long until the next shown card expires, at most limit.
func (w *watch) untilExpiry(limit time.Duration) time.Duration {
	now := w.s.now()
	d := limit
	for _, c := range w.shown {
		if until := c.ExpireTime.Sub(now); until < d {
			d = until
		}
	}
	return max(d, time.Millisecond)
}

// takeDown is a terminal event: the card to take down, by its call's id,
// state and times only.
func (w *watch) takeDown(t EventType, id string, at time.Time, c Call) WatchEvent {
	state := map[EventType]State{EventLocked: StateLocked, EventEnded: StateEnded, EventExpired: StateExpired}[t]
	card := &MyCall{Call: Call{ID: c.ID, State: state, CreateTime: c.CreateTime, ExpireTime: c.ExpireTime, EndTime: c.EndTime}}
	return WatchEvent{ID: id, Type: t, Time: at.UTC(), Card: card}
}
