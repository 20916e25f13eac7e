// Package verify is the domain of verified calls: a dialer stamps an
// outbound call before dialling, the call gets a signed call token
// (PASSporT, RFC 8225, with SHAKEN claims of RFC 8588 and Rich Call Data of
// RFC 9795) and a confirmation code (RFC 6238 TOTP) that the agent reads out,
// and the customer's app asks whether the number ringing is genuine.
//
// The package owns the rules: who may be a caller, how long a call verifies,
// the signing keys and their rotation, the codes and their attempt limit, the
// verdict precedence and the words shown to a frightened person on the
// phone. Everything it keeps goes through its Store interface, whose every
// method is one atomic step (see storetest for the contract); the numbers it
// needs from the blocklist domain come through Directory, which every
// verdict consults at the moment of asking: a call verifies only while its
// caller is an official number that places calls and is not blocked. A
// change of state and its audit event are one store step. Codes are
// one-time, and a dialer reaches only the calls it stamped. Time comes only
// from the injected clock.
//
// It must never log, and never put into an error message, a confirmation
// code, a token, a secret or key, or an unmasked phone number. It must not
// import gRPC, HTTP or any storage engine: the transport adapters convert
// to and from proto, the store packages implement Store. Errors it returns
// are fault kinds with client-safe messages; where a customer could probe
// (unknown, ended, expired or locked calls, wrong codes) the answers are
// alike.
package verify
