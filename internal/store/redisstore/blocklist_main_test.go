package redisstore_test

import (
	"testing"

	"github.com/callverify/callverify/internal/redistest"
)

// TestMain stops the shared Redis servers after the last test. (The
// package's other stores need the same: the lead keeps one TestMain.)
func TestMain(m *testing.M) { redistest.Main(m) }
