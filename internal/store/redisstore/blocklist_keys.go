package redisstore

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// dirKey is the key name under the directory partition: dirKey(tag,
// "seq") = "{P:dir}:seq". The scripts build the same names from the
// "{P:dir}:" they are given, and refuse one not among their KEYS.
func dirKey(tag, name string) string { return tag + ":" + name }

// randomHex is n random bytes in hex: entry and report IDs, generations.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
