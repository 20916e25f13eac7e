// Package streamcap caps the long-lived streams (live call cards) one
// customer holds open: a place is taken when a stream opens, kept alive
// while it runs, and given back when it ends. Local counts on one instance;
// rediscap counts across every instance sharing a Redis, with leases that
// lapse when an instance dies holding them. It must never hold what the
// streams carry, nor a customer's number in plain outside this process.
package streamcap
