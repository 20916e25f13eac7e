// Package server is the transport: the gRPC services and the REST gateway
// that adapt proto messages to the domain packages, with one chain of
// interceptors (recovery, request id, metrics, logging, error mapping,
// deadlines, authentication, the role table, rate limits) that every call
// passes through, whether it came over gRPC or over REST.
//
// It knows nothing of storage. It never puts a detailed error cause, a token
// or an unmasked phone number into a client message or a log line.
package server
