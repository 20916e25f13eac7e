// Package e2e runs callverifyd as it is deployed: real processes of the
// built binary, two of them sharing one real redis-server, driven through
// the public gRPC and REST APIs. Its tests stop, kill and restart Redis
// under the processes to prove what issue 15 promises: every instance sees
// every change, a confirmation code is decided once across instances, the
// service fails closed and recovers by itself, and acknowledged writes
// survive a crash of Redis.
//
// The package holds tests only; it must never be imported.
package e2e
