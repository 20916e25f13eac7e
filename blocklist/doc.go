// Package blocklist is the domain of numbers: the platform's official
// numbers, the blocklist of impersonation numbers (exact and prefix) and its
// in-memory matching index, bulk import and export, customers' reports and
// the audit trail of analysts' actions.
//
// It knows nothing of gRPC, HTTP or any storage engine: it talks to a Store
// (this package's interface, with a conformance suite in blocklist/storetest)
// and returns fault errors. It must never log a customer's phone number
// unmasked.
package blocklist
