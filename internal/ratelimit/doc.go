// Package ratelimit is the rate limiter of anonymous requests: a small
// interface, Limiter, with an in-memory token bucket per key here and a
// shared one that several instances consult in redislimit (Redis, GCRA).
//
// It must never hold memory without bound, and never sweep on the request
// path. A caller must treat a Limiter error as a refusal, never as leave to
// go unlimited.
package ratelimit
