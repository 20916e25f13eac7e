// Package blocklist is the domain of numbers: the platform's official
// numbers, the blocklist of impersonation numbers (exact and prefix) and its
// in-memory matching index, bulk import and export, customers' reports and
// the audit trail of analysts' actions.
//
// It knows nothing of gRPC, HTTP or any storage engine: it talks to a Store
// (this package's interface, with a conformance suite in blocklist/storetest)
// and returns fault errors. It must never log a customer's phone number
// unmasked.
//
// Every atomic step is one Store method (create an entry only if no official
// number conflicts, upsert an import batch, record a report within the
// reporter's daily allowance, resolve reports and block in one go), so a
// shared backend can do each in one script or transaction. Each takes the
// audit event of what it does and appends it in that same step: no change
// commits without its record, and a refused one records nothing (events.go
// says what each event holds). It must never record a change in a separate
// write after it. Every entry write also appends its ordered Changes to
// the store's change log in that step, numbered by the store (never by this
// package, so writers in other processes share one order). Each Service's
// follower (follow.go) is the only writer of its Index: built from a full
// scan at start, it applies the log in order, whoever wrote, reloads on a
// gap, and never asks the store on a lookup. A write returns once its own
// follower has applied it, so a caller reads its own writes.
//
// Reporters are customers: the Service hands their number to the store,
// which keeps only a keyed pseudonym of it (an HMAC under a server key),
// never the number nor an unkeyed digest of it, and the audit log names them
// only masked.
package blocklist
