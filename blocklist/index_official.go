package blocklist

import (
	"maps"

	"github.com/callverify/callverify/internal/phone"
)

// officialSet is the index's copy of the registered official numbers. It
// is never changed once published: a writer copies it, changes the copy
// and swaps the pointer, so a reader takes no lock. A platform registers
// hundreds or thousands of lines, not millions, and changes them rarely,
// so a copy per change costs nothing that matters.
type officialSet map[phone.Number]OfficialNumber

// Official returns the official number n as of the index's last change,
// and whether it is registered. It is a memory read: the follower keeps it
// in step with the store's change log, like the entries.
func (x *Index) Official(n phone.Number) (OfficialNumber, bool) {
	set := x.officials.Load()
	if set == nil {
		return OfficialNumber{}, false
	}
	o, ok := (*set)[n]
	return o, ok
}

// Officials is how many official numbers the index holds.
func (x *Index) Officials() int {
	if set := x.officials.Load(); set != nil {
		return len(*set)
	}
	return 0
}

// applyOfficials applies official numbers' changes, in order; x.mu is
// held.
func (x *Index) applyOfficials(chs []Change) {
	if len(chs) == 0 {
		return
	}
	next := officialSet{}
	if cur := x.officials.Load(); cur != nil {
		next = maps.Clone(*cur)
	}
	for _, c := range chs {
		if c.Official == nil {
			continue
		}
		switch c.Op {
		case ChangeOfficialPut:
			next[c.Official.Number] = *c.Official
		case ChangeOfficialDelete:
			delete(next, c.Official.Number)
		}
	}
	x.officials.Store(&next)
}

// setOfficials replaces the index's official numbers with list, read from
// the store after the scan (or snapshot) that x holds. The follower then
// replays the change log from x's sequence: a change to an official
// number made between the two reads is applied again, which leaves the
// record as the store has it (a put and a delete are idempotent), so once
// the index has caught up with the listing, it holds exactly the store's
// official numbers.
func (x *Index) setOfficials(list []OfficialNumber) {
	set := make(officialSet, len(list))
	for _, o := range list {
		set[o.Number] = o
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.officials.Store(&set)
}
