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
// write after it. Every entry write
// returns ordered Changes; the Service applies them to its Index, which is
// built from a full scan at start and never asks the store on a lookup. A
// backend shared by several instances delivers the others' Changes to the
// same Index.Apply, and the same stream is what published deltas are made of.
//
// Reporters are customers: the Service hands their number to the store,
// which keeps only a keyed pseudonym of it (an HMAC under a server key),
// never the number nor an unkeyed digest of it, and the audit log names them
// only masked.
package blocklist
