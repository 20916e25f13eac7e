// Package redistest starts real redis-server processes for tests: a
// standalone server, a three-master Redis Cluster and a Sentinel deployment
// (master, replica, three sentinels) on free loopback ports,
// shared by the tests of one test binary (call Main from TestMain so they
// stop when the tests end), or private ones a test may stop, restart and
// kill.
//
// Tests sharing a server isolate themselves by key prefix (Prefix), never by
// FLUSHALL. redistest never touches a Redis it did not start (the system's
// on 6379 included), and never skips: without redis-server the test fails,
// saying what to install.
package redistest
