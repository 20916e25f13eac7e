package verify

import "context"

// SignForTest exposes token signing to the external tests and benchmarks.
func (s *Service) SignForTest(ctx context.Context, c Call) (string, error) { return s.sign(ctx, c) }

// LooksLikeLink exposes the link filter to the table test.
var LooksLikeLink = looksLikeLink
