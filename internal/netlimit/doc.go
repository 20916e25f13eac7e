// Package netlimit guards the network edge: it caps the connections a
// listener holds open, per client address and in total, so that no client
// can hoard the process's file descriptors; it raises the descriptor limit
// the caps are computed from; and it says who the client of a request is
// when trusted proxies stand in front of the server.
//
// It must never believe an address a client wrote (X-Forwarded-For) unless
// the connection came from a configured trusted proxy, and never let a
// rejected connection hold a descriptor longer than it takes to close it.
package netlimit
