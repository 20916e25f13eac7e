// Package callback is the domain of verified callbacks: a customer who
// could not get through asks the app to be called back, dialers list the
// open requests oldest first, one claims a request (two dialers never get
// the same one) and answers it with a stamped call (verify.StampCall with
// the request's id), and the customer's app then says "this is the
// callback you asked for at 14:02".
//
// The package owns the rules of a request's life: who may ask (the
// customer of the token, never a number from the request), how many may be
// open at once, when a request expires, when a claim lapses and the
// request goes back to the queue, and who may cancel. A request's effective
// state is computed at the moment of asking (Request.StateAt), so expiry
// and lapsed claims need no sweeper to be right; the sweeper only records
// the expiry (audited) and prunes final requests. Everything it keeps goes
// through its Store interface, whose every method is one atomic step with
// its audit event (see storetest for the contract). Answering a request
// with a call is a step of the calls' store (verify.Store.CreateCallbackCall),
// so that the call and the request's change commit together.
//
// It must never log, and never put into an error message, an unmasked
// customer number. It must not import gRPC, HTTP or any storage engine.
// A customer's request that is not theirs, unknown or already final is
// answered alike (NotFound), so nobody can probe which requests exist; a
// dialer sees customers' numbers masked until it holds the claim.
package callback
