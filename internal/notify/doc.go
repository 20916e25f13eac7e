// Package notify wakes the watchers of a key (a customer's call feed) when
// a store has appended to it. A wake-up says only "look again": it carries
// no data, and a missed or coalesced one loses nothing, because a watcher
// always reads what it has not seen from the store itself. It must never
// hold events or decide who may see them.
package notify
