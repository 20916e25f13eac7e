package phone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"regexp/syntax"
	"slices"
)

// digitDFA decides, for a string of ASCII digits, which of a few
// regular expressions match the whole of it, in one pass over the string
// with one table lookup a digit: a deterministic automaton over the ten
// digits, built from the patterns' compiled programs by subset
// construction. It holds the answers regexp.MatchString would give for
// "^(?:pattern)$", by construction: the same parser, flags and
// simplification as regexp.Compile, and a state is the set of program
// instructions the regexp's own simulation could be at after reading the
// same digits. It reads nothing but digits: what a pattern would match
// beyond them, it cannot tell.
type digitDFA struct {
	// next[s*10+d] is the state after reading digit d in state s. State
	// 0 is dead (no pattern can match any more); dfaStart is the start.
	next []uint16
	// accept[s] has bit i set when pattern i matches a string whose
	// reading ends in state s.
	accept []patternMask
}

// patternMask is a set of a digitDFA's patterns, bit i for pattern i: at
// most maxDFAPatterns of them. A validity needs 11 (the general
// description and ten types).
type patternMask uint16

const (
	maxDFAPatterns = 16 // bits in a patternMask
	dfaStart       = 1
	// maxDFAStates bounds a digitDFA's states (20 bytes of table each):
	// the state numbers are uint16s. Building gives up past the bound.
	maxDFAStates = 1 << 16
)

// errDFATooLarge is compileDigitDFA's answer for patterns whose automaton
// would have more states than it was allowed.
var errDFATooLarge = errors.New("phone: digit automaton over its state bound")

// match returns the patterns that match all of s; ok is false, and the
// automaton cannot tell, when s holds a byte that is not an ASCII digit.
func (d *digitDFA) match(s string) (m patternMask, ok bool) {
	st := uint16(dfaStart)
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		st = d.next[int(st)*10+int(c)]
	}
	return d.accept[st], true
}

// states returns how many states d has, the dead one included.
func (d *digitDFA) states() int { return len(d.accept) }

// tableBytes returns the size of d's tables.
func (d *digitDFA) tableBytes() int { return 2*len(d.next) + 2*len(d.accept) }

// compileDigitDFA builds the automaton of patterns, each matched anchored
// at both ends, with at most maxStates states. It fails for a pattern
// that does not compile or that asserts a word boundary (which depends on
// the characters around, which it does not follow), and with
// errDFATooLarge past maxStates.
func compileDigitDFA(patterns []string, maxStates int) (*digitDFA, error) {
	if len(patterns) > maxDFAPatterns {
		return nil, fmt.Errorf("phone: %d patterns for one digit automaton, at most %d", len(patterns), maxDFAPatterns)
	}
	maxStates = min(maxStates, maxDFAStates)
	var b dfaBuilder
	progs := make([]*syntax.Prog, len(patterns))
	for i, p := range patterns {
		// What regexp.Compile does before it runs a program.
		re, err := syntax.Parse("^(?:"+p+")$", syntax.Perl)
		if err != nil {
			return nil, err
		}
		if progs[i], err = syntax.Compile(re.Simplify()); err != nil {
			return nil, err
		}
		b.size += len(progs[i].Inst)
	}
	if b.size >= 1<<31 {
		return nil, errors.New("phone: patterns too large for a digit automaton")
	}
	b.insts = make([]dfaInst, 0, b.size)
	starts := make([]uint32, len(patterns))
	for i, prog := range progs {
		var err error
		if starts[i], err = b.add(prog, patternMask(1)<<i); err != nil {
			return nil, err
		}
	}
	b.seen = make([]bool, len(b.insts))
	b.index = map[string]uint16{}
	d := &digitDFA{next: make([]uint16, 10), accept: make([]patternMask, 1)} // the dead state's
	// State 0 is dead: no thread left. Each state is kept as its key:
	// whether it is the start (only there do ^ assertions hold) and its
	// threads, sorted, as varints of their differences.
	b.keys = []string{""}
	b.intern(b.closure(starts, syntax.EmptyBeginText|syntax.EmptyBeginLine), true)
	var set []uint32
	var seeds [10][]uint32
	for s := dfaStart; s < len(b.keys); s++ {
		if b.full || len(b.keys) > maxStates {
			return nil, errDFATooLarge
		}
		set = b.decode(b.keys[s], set[:0])
		ctx := syntax.EmptyOp(0)
		if s == dfaStart {
			ctx = syntax.EmptyBeginText | syntax.EmptyBeginLine
		}
		// Accepting: the threads that reach a match with the end of the
		// text asserted.
		var acc patternMask
		for _, t := range b.closure(set, ctx|syntax.EmptyEndText|syntax.EmptyEndLine) {
			if b.insts[t].op == syntax.InstMatch {
				acc |= b.insts[t].pattern
			}
		}
		d.accept = append(d.accept, acc)
		for c := range seeds {
			seeds[c] = seeds[c][:0]
		}
		for _, t := range set {
			for ds := b.insts[t].digits; ds != 0; ds &= ds - 1 {
				c := bits.TrailingZeros16(ds)
				seeds[c] = append(seeds[c], b.insts[t].out)
			}
		}
		for c := range seeds {
			d.next = append(d.next, b.intern(b.closure(seeds[c], 0), false))
		}
	}
	if b.full || len(b.keys) > maxStates {
		return nil, errDFATooLarge
	}
	// Exactly as large as needed: the tables live as long as the parser.
	d.next, d.accept = slices.Clone(d.next), slices.Clone(d.accept)
	return d, nil
}

// dfaBuilder holds the programs of a digitDFA's patterns, concatenated,
// and the states found so far.
type dfaBuilder struct {
	size  int       // instructions in all programs
	insts []dfaInst // every pattern's program, numbered in one space

	seen    []bool   // closure's visited set, cleared after each call
	visited []uint32 // what is set in seen
	stack   []uint32
	closed  []uint32 // closure's answer, until its next call
	index   map[string]uint16
	keys    []string // each state's key, by state
	key     []byte
	full    bool // a state was refused: more than maxDFAStates
}

// dfaInst is a program instruction as the builder follows it.
type dfaInst struct {
	op       syntax.InstOp
	out, arg uint32         // as in syntax.Inst, numbered across programs
	empty    syntax.EmptyOp // for InstEmptyWidth, what it asserts
	digits   uint16         // for a rune instruction, the digits it matches, a bit each
	pattern  patternMask    // the instruction's pattern
}

// add appends prog's instructions and returns its start. It refuses
// instructions the automaton cannot follow.
func (b *dfaBuilder) add(prog *syntax.Prog, p patternMask) (uint32, error) {
	base := uint32(len(b.insts))
	for i := range prog.Inst {
		in := &prog.Inst[i]
		di := dfaInst{op: in.Op, out: base + in.Out, pattern: p}
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			// What the instruction matches besides digits never
			// matters: the automaton reads nothing else.
			for c := range 10 {
				if in.MatchRune(rune('0' + c)) {
					di.digits |= 1 << c
				}
			}
		case syntax.InstEmptyWidth:
			di.empty = syntax.EmptyOp(in.Arg)
			if di.empty&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0 {
				return 0, errors.New("phone: pattern asserts a word boundary")
			}
		case syntax.InstAlt, syntax.InstAltMatch:
			di.arg = base + in.Arg
		case syntax.InstCapture, syntax.InstNop, syntax.InstMatch, syntax.InstFail:
		default:
			return 0, fmt.Errorf("phone: pattern instruction %v unknown", in)
		}
		b.insts = append(b.insts, di)
	}
	return base + uint32(prog.Start), nil
}

// closure returns, sorted, the threads reachable from seeds without
// reading a digit where the assertions in ctx hold: the instructions
// that read a digit, the matches, and the assertions that may hold later
// (at the end of the text). The answer is good until the next call.
func (b *dfaBuilder) closure(seeds []uint32, ctx syntax.EmptyOp) []uint32 {
	out := b.closed[:0]
	b.stack = append(b.stack[:0], seeds...)
	for len(b.stack) > 0 {
		t := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		if b.seen[t] {
			continue
		}
		b.seen[t] = true
		b.visited = append(b.visited, t)
		in := &b.insts[t]
		switch in.op {
		case syntax.InstAlt, syntax.InstAltMatch:
			b.stack = append(b.stack, in.arg, in.out)
		case syntax.InstCapture, syntax.InstNop:
			b.stack = append(b.stack, in.out)
		case syntax.InstEmptyWidth:
			switch {
			case in.empty&^ctx == 0:
				b.stack = append(b.stack, in.out)
			case in.empty&(syntax.EmptyBeginText|syntax.EmptyBeginLine)&^ctx == 0:
				// Only end assertions are missing: they hold if the
				// text ends here.
				out = append(out, t)
			}
			// A beginning asserted past the start never holds.
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL, syntax.InstMatch:
			out = append(out, t)
		}
	}
	for _, t := range b.visited {
		b.seen[t] = false
	}
	b.visited = b.visited[:0]
	slices.Sort(out)
	b.closed = out
	return out
}

// intern returns the state of set, adding it when new; the empty set is
// the dead state, but at the start (which always has a state of its own).
func (b *dfaBuilder) intern(set []uint32, atStart bool) uint16 {
	if len(set) == 0 && !atStart {
		return 0
	}
	b.key = b.key[:0]
	if atStart {
		b.key = append(b.key, 1)
	} else {
		b.key = append(b.key, 0)
	}
	prev := uint32(0)
	for _, t := range set {
		b.key = binary.AppendUvarint(b.key, uint64(t-prev))
		prev = t
	}
	if s, ok := b.index[string(b.key)]; ok {
		return s
	}
	s := len(b.keys)
	if s >= maxDFAStates {
		b.full = true
		return 0
	}
	k := string(b.key)
	b.index[k] = uint16(s)
	b.keys = append(b.keys, k)
	return uint16(s)
}

// decode appends to set the threads of a state's key.
func (b *dfaBuilder) decode(key string, set []uint32) []uint32 {
	t := uint64(0)
	for i := 1; i < len(key); {
		delta, n := binary.Uvarint([]byte(key[i:]))
		t += delta
		set = append(set, uint32(t))
		i += n
	}
	return set
}
