package notify

import "sync"

// Hub fans wake-ups out to the subscribers of each key. It is safe for
// concurrent use; the zero value is not: use New.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[*sub]struct{}
}

type sub struct{ c chan struct{} }

// New returns an empty hub.
func New() *Hub { return &Hub{subs: map[string]map[*sub]struct{}{}} }

// Subscribe returns a channel that receives when key (or any of more) is
// notified, and the function that ends the subscription. Notifications coalesce: a
// subscriber that is busy gets one wake-up for any number of them.
func (h *Hub) Subscribe(key string, more ...string) (<-chan struct{}, func()) {
	keys := append([]string{key}, more...)
	s := &sub{c: make(chan struct{}, 1)}
	h.mu.Lock()
	for _, key := range keys {
		m := h.subs[key]
		if m == nil {
			m = map[*sub]struct{}{}
			h.subs[key] = m
		}
		m[s] = struct{}{}
	}
	h.mu.Unlock()
	var once sync.Once
	return s.c, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, key := range keys {
				delete(h.subs[key], s)
				if len(h.subs[key]) == 0 {
					delete(h.subs, key)
				}
			}
		})
	}
}

// Notify wakes every subscriber of key. It never blocks.
func (h *Hub) Notify(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[key] {
		select {
		case s.c <- struct{}{}:
		default:
		}
	}
}

// Has reports whether key has subscribers (a follower may skip keys nobody
// here watches).
func (h *Hub) Has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[key]) > 0
}
