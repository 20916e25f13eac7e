// Package directory answers the calls domain's questions about numbers
// (verify.Directory) from the numbers domain (blocklist), so that neither
// domain imports the other. It must hold no state of its own: every answer
// is the numbers domain's at the moment of asking (its store's, or its
// in-memory index's for the Indexed answers).
package directory

import (
	"context"

	"github.com/callverify/callverify/blocklist"
	"github.com/callverify/callverify/internal/phone"
	"github.com/callverify/callverify/verify"
)

// Directory is verify.Directory over the numbers domain.
type Directory struct{ numbers *blocklist.Service }

var _ verify.IndexedDirectory = Directory{}

// New returns the directory of numbers.
func New(numbers *blocklist.Service) Directory { return Directory{numbers: numbers} }

// OfficialNumber implements verify.Directory.
func (d Directory) OfficialNumber(ctx context.Context, n phone.Number) (verify.Official, error) {
	o, err := d.numbers.OfficialNumber(ctx, n)
	if err != nil {
		return verify.Official{}, err
	}
	return official(o), nil
}

// IndexedOfficialNumber implements verify.IndexedDirectory from the
// numbers domain's memory.
func (d Directory) IndexedOfficialNumber(n phone.Number) (verify.Official, error) {
	o, err := d.numbers.IndexedOfficialNumber(n)
	if err != nil {
		return verify.Official{}, err
	}
	return official(o), nil
}

func official(o blocklist.OfficialNumber) verify.Official {
	return verify.Official{
		Number:      o.Number,
		DisplayName: o.DisplayName,
		PlacesCalls: o.Direction.PlacesCalls(),
		InboundOnly: o.Direction == blocklist.DirectionInboundOnly,
		Gen:         o.Gen,
	}
}

// BlockedCategory implements verify.Directory.
func (d Directory) BlockedCategory(_ context.Context, n phone.Number) (string, bool, error) {
	e, ok := d.numbers.Match(n)
	if !ok {
		return "", false, nil
	}
	return e.Category.String(), true, nil
}
