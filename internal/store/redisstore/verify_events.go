package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Call events (verify.EventLog) on Redis: the scripts that change a call
// append its event to its shard's stream {P:s:K}:events in the same
// script (fields c: the customer key, i: the call id, t: the
// verify.EventType, at: the change's time, Unix ms) and publish the
// customer key on the channel P:events. Each instance holds one
// subscription to that channel and wakes its own watchers of the customer
// it names; a watcher then reads its shard's stream after its position,
// keeping its customer's events. A position is a stream id of the
// customer's shard. A lost notification (a reconnect of the subscription)
// loses nothing: watchers also read the stream at every heartbeat.

var _ verify.EventLog = (*VerifyStore)(nil)

// eventScanPage is how many stream entries one XRANGE reads; eventScanMax
// bounds the entries one EventsAfter looks at (the page then says More).
const (
	eventScanPage = 500
	eventScanMax  = 5000
)

func (a streamID) less(b streamID) bool { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

// feed is the customer's event stream and the customer keys their events
// carry. The stream is the one of the ring's writing key: after a
// rotation of the HMAC key, the events of calls stamped before it (to the
// older key's shard) no longer reach a watch; their cards still expire.
func (s *VerifyStore) feed(customer phone.Number) (stream string, macs map[string]bool) {
	cs := s.keys.customersOf(s.ring, customer)
	macs = make(map[string]bool, len(cs))
	for _, c := range cs {
		macs[c.mac] = true
	}
	return s.keys.events(cs[0].shard), macs
}

// EventsHead implements verify.EventLog: the stream's last id.
func (s *VerifyStore) EventsHead(ctx context.Context, customer phone.Number) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	stream, _ := s.feed(customer)
	info, err := s.rdb.XInfoStream(ctx, stream).Result()
	if isNoSuchKey(err) {
		return "0-0", nil
	}
	if err != nil {
		return "", redisErr(ctx, "read the event stream", err)
	}
	return info.LastGeneratedID, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// EventsAfter implements verify.EventLog. A position before the stream's
// trimmed part (its max deleted id), or after its last id, cannot resume.
func (s *VerifyStore) EventsAfter(ctx context.Context, customer phone.Number, since string, limit int) (verify.EventPage, error) {
	if err := ctx.Err(); err != nil {
		return verify.EventPage{}, err
	}
	from, ok := parseStreamID(since)
	if !ok {
		return verify.EventPage{}, verify.ErrCursorGone
	}
	stream, macs := s.feed(customer)
	pipe := s.rdb.Pipeline()
	infoCmd := pipe.XInfoStream(ctx, stream)
	atCmd := pipe.XRangeN(ctx, stream, since, since, 1)
	_, err := pipe.Exec(ctx)
	info, infoErr := infoCmd.Result()
	switch {
	case isNoSuchKey(infoErr):
		if from != (streamID{}) {
			return verify.EventPage{}, verify.ErrCursorGone
		}
		return verify.EventPage{Next: since}, nil
	case infoErr != nil:
		return verify.EventPage{}, redisErr(ctx, "read the event stream", infoErr)
	case err != nil && !isNoSuchKey(err):
		return verify.EventPage{}, redisErr(ctx, "read the event stream", err)
	}
	last, _ := parseStreamID(info.LastGeneratedID)
	if last.less(from) {
		return verify.EventPage{}, verify.ErrCursorGone
	}
	if gone, ok := parseStreamID(info.MaxDeletedEntryID); ok && from.less(gone) {
		return verify.EventPage{}, verify.ErrCursorGone
	}
	page := verify.EventPage{Next: since}
	if at := atCmd.Val(); len(at) == 1 {
		page.SinceTime = entryTime(at[0])
	}
	for scanned := 0; scanned < eventScanMax; {
		msgs, err := s.rdb.XRangeN(ctx, stream, "("+page.Next, "+", eventScanPage).Result()
		if err != nil {
			return verify.EventPage{}, redisErr(ctx, "read the event stream", err)
		}
		for _, m := range msgs {
			page.Next = m.ID
			if !macs[str(m.Values["c"])] {
				continue
			}
			t, _ := strconv.Atoi(str(m.Values["t"]))
			page.Events = append(page.Events, verify.CallEvent{
				ID: m.ID, Type: verify.EventType(t), Time: entryTime(m), CallID: str(m.Values["i"]),
			})
			if len(page.Events) == limit {
				page.More = true
				return page, nil
			}
		}
		scanned += len(msgs)
		if len(msgs) < eventScanPage {
			return page, nil
		}
	}
	page.More = true
	return page, nil
}

func entryTime(m redis.XMessage) time.Time {
	n, err := strconv.ParseInt(str(m.Values["at"]), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// SubscribeEvents implements verify.EventLog: the first subscriber starts
// this instance's one subscription to the events channel.
func (s *VerifyStore) SubscribeEvents(customer phone.Number) (<-chan struct{}, func()) {
	s.followOnce.Do(s.startFollow)
	_, macs := s.feed(customer)
	keys := make([]string, 0, len(macs))
	for m := range macs {
		keys = append(keys, m)
	}
	return s.hub.Subscribe(keys[0], keys[1:]...)
}

// startFollow subscribes to the events channel and wakes the watchers of
// each customer key published there, until Close. go-redis resubscribes
// after a lost connection; what was published meanwhile is found by the
// watchers' next read of the stream.
func (s *VerifyStore) startFollow() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopFollow = cancel
	s.followed = make(chan struct{})
	ps := s.rdb.Subscribe(ctx, s.keys.eventsChannel())
	go func() {
		defer close(s.followed)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				s.hub.Notify(m.Payload)
			}
		}
	}()
}

// Close stops the subscription to the events channel, if one was started.
func (s *VerifyStore) Close() error {
	s.followOnce.Do(func() {}) // none starts after this
	if s.stopFollow != nil {
		s.stopFollow()
		<-s.followed
	}
	return nil
}

// PruneEvents implements verify.EventLog: each append trims its stream to
// the retention (MINID), so there is nothing left to prune.
func (s *VerifyStore) PruneEvents(ctx context.Context, _ time.Time, _ int) (int, error) {
	return 0, ctx.Err()
}
