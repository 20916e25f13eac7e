package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/callverify/callverify/internal/audit"
	"github.com/callverify/callverify/internal/fault"
)

// DefaultKeyPrefix is the key prefix P of docs/redis.md when none is given.
const DefaultKeyPrefix = "cv"

// dirTag is the hash tag of the directory partition, "{P:dir}": every key
// of the blocklist shares it, so that one Lua script may check and write
// them together on a cluster. (Shared helper: the lead merges it with the
// verify and audit stores' key builder.)
func dirTag(prefix string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return "{" + strings.TrimSuffix(prefix, ":") + ":dir}"
}

// dirKey is the key name under the directory partition: dirKey(tag,
// "seq") = "{P:dir}:seq". The scripts build the same names from the
// "{P:dir}:" they are given.
func dirKey(tag, name string) string { return tag + ":" + name }

// The helpers below are not the blocklist's own: the lead merges them with
// the verify and audit stores' equivalents.

// storeErr keeps the caller's own errors and makes any other an
// Unavailable fault.
func storeErr(err error) error {
	var f *fault.Error
	if errors.As(err, &f) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fault.Unavailable(err)
}

// randomHex is n random bytes in hex: entry and report IDs, generations.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// marshalEvent is an event as the scripts append it to an audit stream: the
// single field e of one entry, the JSON of audit.Event with ID empty (the
// audit store takes the entry's id) and Time in RFC 3339 with nanoseconds
// (time.Time's JSON).
func marshalEvent(ev audit.Event) (string, error) {
	ev.ID = "" // the audit stream's entry id is the event's id
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode audit event: %w", err)
	}
	return string(b), nil
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
