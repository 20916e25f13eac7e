package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/redistest"
)

// OnRedis puts the service on the Redis at addr instead of the embedded
// store: under a key prefix of its own (so servers of several tests share
// one Redis), with a KEK file of its own, as a server on Redis needs one.
func OnRedis(t testing.TB, addr string) Option {
	t.Helper()
	kek := filepath.Join(t.TempDir(), "kek.key")
	if err := os.WriteFile(kek, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimSuffix(redistest.Prefix(t), ":")
	return func(c *app.Config) {
		c.RedisAddrs = []string{addr}
		c.RedisKeyPrefix = prefix
		c.KEKFile = kek
	}
}
