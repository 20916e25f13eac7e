// Package redisstore keeps the service's state in Redis (standalone,
// Sentinel or Cluster) with the key layout of docs/redis.md: the calls
// domain's verify.Store (VerifyStore), the audit trail (AuditStore) and the
// numbers domain's blocklist.Store.
//
// Every step the embedded store runs as one bbolt transaction is one Lua
// script on one hash tag here, its audit event appended by the same
// script. It must never put a customer's number or customer id in a key or
// a value in plain (keys carry their HMAC, values that need them back hold
// them sealed with the KEK), and never run a script over keys of two hash
// tags.
package redisstore
