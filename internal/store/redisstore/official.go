package redisstore

import (
	"strconv"

	"github.com/callverify/callverify/blocklist"
)

// placesCalls reads the direction field of an official number's record
// ({P:dir}:official:<E164>, written by the numbers domain's store): a
// blocklist.Direction as its decimal number ("1" outbound, "2" inbound
// only, "3" both) or as its name ("outbound", "inbound_only", "both").
func placesCalls(direction string) bool {
	if n, err := strconv.Atoi(direction); err == nil {
		return blocklist.Direction(n).PlacesCalls()
	}
	for _, d := range []blocklist.Direction{blocklist.DirectionOutbound, blocklist.DirectionBoth} {
		if direction == d.String() {
			return true
		}
	}
	return false
}

// inboundOnly reports whether direction (as placesCalls reads it) is
// inbound only.
func inboundOnly(direction string) bool {
	if n, err := strconv.Atoi(direction); err == nil {
		return blocklist.Direction(n) == blocklist.DirectionInboundOnly
	}
	return direction == blocklist.DirectionInboundOnly.String()
}
