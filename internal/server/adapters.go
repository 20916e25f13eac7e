package server

import (
	"time"

	callverifyv1 "github.com/callverify/callverify/api/callverify/v1"
	"github.com/callverify/callverify/internal/phone"
)

// The adapters convert proto messages to domain calls and back. Each embeds
// its Unimplemented server so that the compiler flags a missing method and
// an RPC that is not built yet answers UNIMPLEMENTED.
type (
	callServer struct {
		callverifyv1.UnimplementedCallServiceServer
		d *Deps
	}
	verifyServer struct {
		callverifyv1.UnimplementedVerifyServiceServer
		d *Deps
		// tokenNumbers parses the phone_number claim of a customer's token
		// once, not on every call the token is presented with.
		tokenNumbers *phone.Memo
		// watchers caps the open watch streams per customer; heartbeat is
		// their heartbeat interval; draining ends them at shutdown.
		watchers  *watchCap
		heartbeat time.Duration
		draining  <-chan struct{}
		// outcomes counts verdicts, code attempts and call tokens.
		outcomes *outcomes
	}
	blocklistServer struct {
		callverifyv1.UnimplementedBlocklistServiceServer
		d *Deps
		// draining is closed when the server starts shutting down: an
		// import then commits what it holds and answers.
		draining <-chan struct{}
	}
	adminServer struct {
		callverifyv1.UnimplementedAdminServiceServer
		d *Deps
	}
	callbackServer struct {
		callverifyv1.UnimplementedCallbackServiceServer
		d *Deps
	}
)
