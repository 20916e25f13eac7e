package streamcap_test

import (
	"testing"

	"github.com/callverify/callverify/internal/streamcap"
	"github.com/callverify/callverify/internal/streamcap/streamcaptest"
)

func TestLocal(t *testing.T) {
	t.Parallel()
	streamcaptest.Run(t, 3, func(*testing.T) streamcap.Cap { return streamcap.NewLocal(3) })
}
