package redisstore

// SetStampedHook makes f run in CreateCall between storing the call and
// reading the caller's official record again: where a concurrent change
// of the record lands in the race CreateCall must win.
func SetStampedHook(s *VerifyStore, f func()) { s.stamped = f }

// SetDeclaredHook makes f run each time ListCallsTo reads a batch by its
// declared-keys path instead of its one-step script.
func SetDeclaredHook(s *VerifyStore, f func()) { s.declared = f }

// SetIndexScanPage sets how many entries one round trip of
// ScanIndexEntries reads, so a test crosses pages with few entries.
func SetIndexScanPage(s *BlocklistStore, n int) { s.indexScanPage = n }
