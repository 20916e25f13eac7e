package blocklist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Direction says which way an official number carries calls.
type Direction int

const (
	DirectionUnspecified Direction = iota
	// DirectionOutbound numbers place calls (and may stamp them).
	DirectionOutbound
	// DirectionInboundOnly numbers are hotlines that never call anybody.
	DirectionInboundOnly
	// DirectionBoth numbers take and place calls.
	DirectionBoth
)

// Valid reports whether d is a settable direction.
func (d Direction) Valid() bool { return d >= DirectionOutbound && d <= DirectionBoth }

// PlacesCalls reports whether a number with this direction may call out.
func (d Direction) PlacesCalls() bool { return d == DirectionOutbound || d == DirectionBoth }

func (d Direction) String() string {
	switch d {
	case DirectionOutbound:
		return "outbound"
	case DirectionInboundOnly:
		return "inbound_only"
	case DirectionBoth:
		return "both"
	}
	return "unspecified"
}

// OfficialNumber is a number the platform owns.
type OfficialNumber struct {
	Number      phone.Number
	DisplayName string
	Direction   Direction
	Description string
	CreateBy    string
	CreateTime  time.Time
	// Gen is the generation of the record, the store's: new at every
	// create (CreateOfficialNumber ignores the one it is given), opaque,
	// compared for equality only. A call carries the Gen of its caller's
	// record when stamped and verifies only while the record still has it,
	// so a line deleted and registered again does not revive its old calls.
	// "" means unknown (a record written before stores kept one).
	Gen string
}

// Snapshot is o as an audit event shows it.
func (o OfficialNumber) Snapshot() map[string]any {
	return map[string]any{
		"number":       o.Number.String(),
		"display_name": o.DisplayName,
		"direction":    o.Direction.String(),
		"description":  o.Description,
	}
}

const (
	maxDisplayName = 64
	maxDescription = 500
	maxPageSize    = 1000
	defPageSize    = 100
)

// CreateOfficialNumber registers a number the platform owns. It is refused
// when an active blocklist entry matches the number.
func (s *Service) CreateOfficialNumber(ctx context.Context, actor audit.Actor, rawNumber string, o OfficialNumber) (OfficialNumber, error) {
	n, err := s.parseNumber("number", rawNumber)
	if err != nil {
		return OfficialNumber{}, err
	}
	o.Number = n
	if o.DisplayName, err = displayNameField().Clean(o.DisplayName); err != nil {
		return OfficialNumber{}, err
	}
	if o.Description, err = descriptionField().Clean(o.Description); err != nil {
		return OfficialNumber{}, err
	}
	if !o.Direction.Valid() {
		return OfficialNumber{}, fault.Invalid("direction", "must be DIRECTION_OUTBOUND, DIRECTION_INBOUND_ONLY or DIRECTION_BOTH")
	}
	o.CreateBy = actor.Subject
	o.CreateTime = s.now().UTC().Truncate(time.Millisecond)
	ev := s.audit.Event(actor, "official_number.create", o.Number.String(), nil, o.Snapshot())
	var ch Change
	err = s.write(ctx, func() ([]Change, error) {
		c, err := s.store.CreateOfficialNumber(ctx, o, o.CreateTime, ev)
		ch = c
		return []Change{c}, err
	})
	if err != nil {
		var c *ConflictError
		switch {
		case errors.As(err, &c):
			return OfficialNumber{}, fault.Wrap(fault.ErrFailedPrecondition,
				"number is matched by blocklist entry "+c.EntryID+" ("+c.Pattern+"); remove or change that entry first", err)
		case errors.Is(err, fault.ErrAlreadyExists):
			return OfficialNumber{}, fault.Wrap(fault.ErrAlreadyExists, "number is already registered as an official number", err)
		}
		return OfficialNumber{}, err
	}
	if ch.Official != nil {
		o.Gen = ch.Official.Gen
	}
	return o, nil
}

// OfficialNumber returns the registered official number n, or an error
// wrapping fault.ErrNotFound, as the store has it at the moment of asking.
func (s *Service) OfficialNumber(ctx context.Context, n phone.Number) (OfficialNumber, error) {
	return s.store.GetOfficialNumber(ctx, n)
}

// IndexedOfficialNumber is OfficialNumber from memory: the official
// numbers the index holds, kept in step with the store's change log by the
// follower like the entries. It lags the store by the follower's delay
// (Follow.Interval, usually a few ms after a write through this Service,
// which returns once it is applied): a number registered on another
// instance a moment ago is not found yet, one deleted there a moment ago is
// still found. While the follower cannot read the store it answers an
// error wrapping fault.ErrUnavailable, never a record that may be stale by
// the length of the outage.
func (s *Service) IndexedOfficialNumber(n phone.Number) (OfficialNumber, error) {
	if err := s.follow.readErr(); err != nil {
		return OfficialNumber{}, fault.Unavailable(fmt.Errorf("blocklist: the index cannot read the store: %w", err))
	}
	o, ok := s.index.Official(n)
	if !ok {
		return OfficialNumber{}, fault.ErrNotFound
	}
	return o, nil
}

// ListOfficialNumbers lists official numbers in number order.
func (s *Service) ListOfficialNumbers(ctx context.Context, pageSize int, pageToken string) ([]OfficialNumber, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	list, err := s.store.ListOfficialNumbers(ctx, after, size+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		next = encodeToken(list[size-1].Number.String())
	}
	return list, next, nil
}

// DeleteOfficialNumber removes an official number and, in the same store
// step, ends every live call stamped from it: a number that is no longer
// ours must not go on verifying. Changing a number's direction (say, to
// inbound-only) is a delete and a create, so it ends the calls too. It
// returns how many calls it ended; the audit event says so.
func (s *Service) DeleteOfficialNumber(ctx context.Context, actor audit.Actor, rawNumber string) (int, error) {
	n, err := s.parseNumber("number", rawNumber)
	if err != nil {
		return 0, err
	}
	// The store fills in Before (what it deleted) and the calls it ended.
	ev := s.audit.Event(actor, "official_number.delete", n.String(), nil, nil)
	_, ended, ch, err := s.store.DeleteOfficialNumber(ctx, n, s.now().UTC(), ev)
	if ch.Seq != 0 {
		// Read your own writes, even when the delete committed and what
		// followed failed (a networked store ending the line's calls).
		if werr := s.write(ctx, func() ([]Change, error) { return []Change{ch}, nil }); err == nil {
			err = werr
		}
	}
	if err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return 0, fault.Wrap(fault.ErrNotFound, "no such official number", err)
		}
		return 0, err
	}
	return ended, nil
}

func (s *Service) parseNumber(field, raw string) (phone.Number, error) {
	return s.phone.ParseField(field, raw)
}

func pageSizeOf(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fault.Invalid("page_size", "must not be negative")
	case n == 0:
		return defPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return n, nil
}
