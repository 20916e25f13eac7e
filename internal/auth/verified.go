package auth

import (
	"crypto/sha256"
	"sync"
)

// verifiedTokens is how many verified bearer tokens a Verifier remembers:
// about the clients active at once. An entry is the token's hash and its
// claims, a few hundred bytes.
const verifiedTokens = 4096

// verified remembers bearer tokens that passed the full check, so that a
// client presenting the same token on every request pays for the
// signature (and the JSON of the token) once. It is strictly as safe as
// verifying each time:
//   - An entry is found only by the SHA-256 of the exact token bytes, so a
//     hit is the very token that was verified (and the cache holds hashes,
//     not credentials).
//   - The part of verification that a hit skips depends on nothing but
//     the token bytes and the keys: the signature and the header checks.
//     An entry names the key set its key came from and is used only while
//     that set is the Verifier's current one: after a JWKS refresh (a key
//     rotated out) every token takes the full check again. The HMAC secret
//     and a JWKS file never change while the Verifier runs.
//   - The part that depends on the time is run again on every hit, by the
//     same code as the full check: the parser's claim validator (exp, nbf,
//     iat, iss, aud and the callverify claims) and checkAge.
//   - A hit only ever accepts. When the re-run checks fail, the entry is
//     dropped and the token takes the full path, which refuses it with the
//     usual reason. Refused tokens are never remembered.
//
// The cache holds at most max entries in two generations: when the newer
// one is half full it becomes the older and the older is dropped, so
// tokens in use stay (a hit in the older moves the entry to the newer).
type verified struct {
	max int

	mu       sync.Mutex
	cur, old map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	claims tokenClaims
	keys   *keySet // the key set its key came from; nil for the HMAC secret
}

func newVerified(max int) *verified {
	return &verified{max: max, cur: make(map[[sha256.Size]byte]verifiedEntry)}
}

func (c *verified) get(h [sha256.Size]byte) (verifiedEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[h]; ok {
		return e, true
	}
	e, ok := c.old[h]
	if ok {
		delete(c.old, h)
		c.putLocked(h, e)
	}
	return e, ok
}

func (c *verified) put(h [sha256.Size]byte, e verifiedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(h, e)
}

func (c *verified) putLocked(h [sha256.Size]byte, e verifiedEntry) {
	if len(c.cur) >= max(c.max/2, 1) {
		c.old, c.cur = c.cur, make(map[[sha256.Size]byte]verifiedEntry, c.max/2)
	}
	c.cur[h] = e
}

func (c *verified) drop(h [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, h)
	delete(c.old, h)
}

// len is how many tokens are remembered.
func (c *verified) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
