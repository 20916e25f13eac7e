package redisstore

import "strings"

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
