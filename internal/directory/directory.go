// Package directory answers the calls domain's questions about numbers
// (verify.Directory) from the numbers domain (blocklist), so that neither
// domain imports the other. It must hold no state of its own: every answer
// is the numbers domain's at the moment of asking.
package directory

import (
	"context"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Directory is verify.Directory over the numbers domain.
type Directory struct{ numbers *blocklist.Service }

var _ verify.Directory = Directory{}

// New returns the directory of numbers.
func New(numbers *blocklist.Service) Directory { return Directory{numbers: numbers} }

// OfficialNumber implements verify.Directory.
func (d Directory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
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

// BlockedCategory implements verify.Directory.
func (d Directory) BlockedCategory(_ context.Context, n phone.Number) (string, bool, error) {
	e, ok := d.numbers.Match(n)
	if !ok {
		return "", false, nil
	}
	return e.Category.String(), true, nil
}
