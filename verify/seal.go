package verify

// Additional data for each kind of value verify seals with the KEK
// (internal/seal), so that a sealed value moved to another record does not
// open.
func aadSigningKey(kid string) []byte { return []byte("signing_key:" + kid) }
func aadCall(id string) []byte        { return []byte("call:" + id) }
func aadDevice(id string) []byte      { return []byte("device:" + id) }
