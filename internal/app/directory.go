package app

import (
	"context"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// directory answers the calls domain's questions about numbers from the
// numbers domain, so that neither domain imports the other.
type directory struct{ numbers *blocklist.Service }

var _ verify.Directory = directory{}

func (d directory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.numbers.OfficialNumber(ctx, n)
	if err != nil {
		return verify.Official{}, err
	}
	return verify.Official{
		Number:      o.Number,
		DisplayName: o.DisplayName,
		PlacesCalls: o.Direction.PlacesCalls(),
		InboundOnly: o.Direction == blocklist.DirectionInboundOnly,
		Gen:         o.Gen,
	}, nil
}

func (d directory) BlockedCategory(_ context.Context, n phone.Number) (string, bool, error) {
	e, ok := d.numbers.Match(n)
	if !ok {
		return "", false, nil
	}
	return e.Category.String(), true, nil
}
