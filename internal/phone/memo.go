package phone

import "sync"

// Memo remembers the numbers a Parser accepted, up to a fixed count, so
// that a string parsed on every request (the phone_number claim of a
// bearer token, presented with each call the customer makes) is parsed
// once. It is safe for concurrent use.
//
// Keys are the raw strings themselves: Parse is a function of its input
// and the parser's region, so a remembered answer is right by
// construction, whatever issued the string. Only accepted numbers are
// remembered, and only inputs Parse could accept (at most MaxInputLength
// characters), so the memory held is bounded by the count.
type Memo struct {
	p   *Parser
	max int

	mu sync.RWMutex
	m  map[string]Number
}

// NewMemo returns a Memo of p that holds at most size numbers (at least 1).
func NewMemo(p *Parser, size int) *Memo {
	size = max(size, 1)
	return &Memo{p: p, max: size, m: make(map[string]Number, size)}
}

// Parse is the Parser's Parse, answered from memory for an input it has
// accepted before. When full, the Memo forgets an arbitrary number to make
// room.
func (m *Memo) Parse(raw string) (Number, error) {
	m.mu.RLock()
	n, ok := m.m[raw]
	m.mu.RUnlock()
	if ok {
		return n, nil
	}
	n, err := m.p.Parse(raw)
	if err != nil || len(raw) > MaxInputLength*4 { // 4: the longest UTF-8 rune
		return n, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[raw]; !ok && len(m.m) >= m.max {
		for k := range m.m {
			delete(m.m, k)
			break
		}
	}
	m.m[raw] = n
	return n, nil
}

// Len returns how many numbers the Memo holds.
func (m *Memo) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}
