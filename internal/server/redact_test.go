package server

import (
	"strings"
	"testing"
)

func TestRedactMasksNumbersAndKeepsTheMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, mustNot, must string }{
		{"official number +8613800138000 is matched by entry e-1 (+86170*)", "13800138000", "entry e-1"},
		{"caller 138 0013 8000 refused", "0013", "refused"},
		{"store: open /tmp/x.db: timeout after 2s", "", "open /tmp/x.db: timeout after 2s"},
	} {
		got := redact(tc.in)
		if tc.mustNot != "" && strings.Contains(got, tc.mustNot) {
			t.Errorf("redact(%q) = %q, still shows %q", tc.in, got, tc.mustNot)
		}
		if !strings.Contains(got, tc.must) {
			t.Errorf("redact(%q) = %q, lost %q", tc.in, got, tc.must)
		}
	}
}
