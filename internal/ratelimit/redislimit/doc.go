// Package redislimit is the ratelimit.Limiter that several instances share:
// a GCRA bucket per key in Redis (go-redis/redis_rate), so that N instances
// behind a load balancer allow one budget, not N.
//
// It must never decide without Redis: an unreachable or failing Redis is an
// error (the caller refuses), never an allowance. It never writes a key as
// given: a client address becomes an HMAC under the first key of the ring,
// so Redis (its dumps, MONITOR, SLOWLOG) holds no address in plain.
package redislimit
