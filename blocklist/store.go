package blocklist

import (
	"context"
	"fmt"
	"time"

	"github.com/callverify/callverify/internal/fault"
	"github.com/callverify/callverify/internal/phone"
)

// Store keeps the numbers domain's state. Every method is one atomic step;
// errors wrap the fault sentinels (fault.ErrNotFound, fault.ErrAlreadyExists,
// fault.ErrConflict, fault.ErrUnavailable). Implementations must pass
// storetest.Run.
type Store interface {
	// CreateOfficialNumber adds o unless the number is registered already
	// (fault.ErrAlreadyExists) or an entry active at now matches it
	// (*ConflictError, which wraps fault.ErrConflict).
	CreateOfficialNumber(ctx context.Context, o OfficialNumber, now time.Time) error
	// GetOfficialNumber returns n or fault.ErrNotFound.
	GetOfficialNumber(ctx context.Context, n phone.Number) (OfficialNumber, error)
	// ListOfficialNumbers returns up to limit numbers greater than after, in order.
	ListOfficialNumbers(ctx context.Context, after string, limit int) ([]OfficialNumber, error)
	// DeleteOfficialNumber removes n and returns what it was, or fault.ErrNotFound.
	DeleteOfficialNumber(ctx context.Context, n phone.Number) (OfficialNumber, error)
}

// ConflictError says that an official number and a blocklist entry would
// match each other.
type ConflictError struct {
	EntryID string
	Pattern string
	Number  phone.Number // the official number
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("blocklist entry %s (%s) matches official number %s", e.EntryID, e.Pattern, e.Number)
}

// Unwrap makes errors.Is(err, fault.ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return errConflict }

var errConflict = fault.ErrConflict
