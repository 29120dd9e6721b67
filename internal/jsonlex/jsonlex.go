// Package jsonlex holds the lexical pieces of JSON (RFC 8259) that the
// project's hand-written readers share: the agents' event lines
// (internal/event) and Windows event exports (server/detect/winlog) are
// read without encoding/json's reflection, but by one grammar.
package jsonlex

// SkipSpace returns the index of the first byte at or after i of b that is
// not JSON whitespace (len(b) when none is left).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Number reads the number that starts at b[i] and returns the index just
// past it; integer is false when it has a fraction or an exponent, ok
// false when it does not follow the grammar.
func Number(b []byte, i int) (end int, integer, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		j := digits(b, i+1)
		if j == i+1 {
			return j, false, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false, false
		}
		i = j
	}
	return i, integer, true
}

// digits returns the index past the decimal digits starting at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Hex4 reads the four hexadecimal digits of a \u escape from the start of
// b.
func Hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Escape returns the byte a one-character escape (the c of \c) stands
// for; ok is false for 'u', which Hex4 reads, and for anything that is not
// an escape.
func Escape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

// Special8 tells whether one of the eight bytes of x (read little endian)
// is a quote, a backslash, a control character or outside ASCII: the
// bytes a JSON string's reader or writer must look at.
func Special8(x uint64) bool { return SpecialMask8(x) != 0 }

// SpecialMask8 flags, in the top bit of each byte, the bytes of x (read
// little endian) that Special8 looks for. The lowest flag is always the
// first such byte, so bits.TrailingZeros64(m)/8 is its index; a borrow
// from a byte that matches may flag bytes above it too, which only sends
// a caller to its byte loop early.
func SpecialMask8(x uint64) uint64 {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v & tops }
	return x&tops | zero(x^(ones*'"')) | zero(x^(ones*'\\')) | (x-ones*0x20)&^x&tops
}
