// Package redisconn builds the one Redis client that callverifyd's Redis
// stores share, from a Config: one address is a standalone server, a master
// name is a Sentinel deployment (the addresses are its sentinels), several
// addresses are a Redis Cluster.
//
// It must never weaken a connection to make it work: TLS always verifies the
// server's certificate (there is no insecure-skip-verify), and a password
// file is refused when other users could read it. It knows nothing of keys
// or of what the stores keep.
package redisconn
