package redisstore_test

import (
	"testing"

	"github.com/callverify/callverify/internal/redistest"
)

// TestMain stops the shared Redis servers after the package's tests (the
// calls, audit and blocklist stores' tests share them).
func TestMain(m *testing.M) { redistest.Main(m) }
