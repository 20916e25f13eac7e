package redisstore

// SetStampedHook makes f run in CreateCall between storing the call and
// reading the caller's official record again: where a concurrent change
// of the record lands in the race CreateCall must win.
func SetStampedHook(s *VerifyStore, f func()) { s.stamped = f }

// SetIndexScanPage sets how many entries one round trip of
// ScanIndexEntries reads, so a test crosses pages with few entries.
func SetIndexScanPage(s *BlocklistStore, n int) { s.indexScanPage = n }

// QueuedReads is how many reads wait for the next batch of
// ListCallsToWithLine's pipeline.
func QueuedReads(s *VerifyStore) int {
	s.lines.mu.Lock()
	defer s.lines.mu.Unlock()
	return len(s.lines.queue)
}

// MaxBatchesInFlight is how many batches of ListCallsToWithLine's reads
// may be in flight at once.
const MaxBatchesInFlight = maxBatchesInFlight

// ImportsNew reports whether s plans its next import batch without reading
// first (the last batch read found nothing).
func ImportsNew(s *BlocklistStore) bool { return s.importsNew.Load() }
