package verify

import (
	"context"

	"github.com/callverify/callverify/internal/phone"
)

// SignForTest exposes token signing to the external tests and benchmarks.
func (s *Service) SignForTest(ctx context.Context, c Call) (string, error) { return s.sign(ctx, c) }

// LooksLikeLink exposes the link filter to the table test.
var LooksLikeLink = looksLikeLink

// ParseOursForTest and ParseAnyForTest expose the two token parsers, so a
// test can hold them to the same answers.
func (s *Service) ParseOursForTest(ctx context.Context, token string) (map[string]any, TokenFailure, bool, error) {
	return s.parseOurs(ctx, token)
}

func (s *Service) ParseAnyForTest(ctx context.Context, token string) (map[string]any, TokenFailure, error) {
	return s.parseAny(ctx, token)
}

// GetLiveCall is getLiveCall with every call eligible, for tests of the
// hint it is given.
func (s *Service) GetLiveCallForTest(ctx context.Context, id string, hint phone.Number) (Call, bool, error) {
	return s.getLiveCall(ctx, id, hint, func(Call) bool { return true })
}
