package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// escapedRune reports whether r is shown as an escape rather than printed:
// C0 controls, DEL, C1 controls and the bidirectional embeddings, overrides
// and isolates, which a terminal would act on (clearing the screen, moving
// the cursor, reordering a line) instead of showing.
func escapedRune(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// visible returns s safe to print on a terminal: every rune escapedRune
// names is written as an escape (\t, \n, \r, \x1b, \u009b, \u202e), and a
// byte that is not UTF-8 as \xNN. Everything else, Vietnamese included, is
// kept; a backslash is kept too, so Windows paths stay readable.
func visible(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && escapedRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case escapedRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || escapedRune(r) {
			return true
		}
		i += size
	}
	return false
}

// visibleAll applies visible to every element of list.
func visibleAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = visible(s)
	}
	return out
}

// jsonSafe rewrites the runes encoding/json leaves raw in strings but a
// terminal acts on (DEL, C1 controls, bidi controls) as \uXXXX escapes,
// which decode to the same text. It relies on such runes appearing only
// inside JSON strings, as they cannot appear anywhere else.
func jsonSafe(w io.Writer, b []byte) error {
	i := 0
	// Eight bytes at a time while none is 0x7f or above: adding one to
	// each byte sets its top bit only for 0x7f, and a carry into the next
	// byte only comes from 0xff, whose top bit is set already.
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	// Sixty-four bytes a step over the long plain runs an alert is made
	// of, then eight to find where the run ends. The step's own slice
	// spares a bounds check per word, and the words are combined as a
	// tree rather than a chain, so that the loads and adds overlap.
	for ; i+64 <= len(b); i += 64 {
		p := b[i : i+64 : i+64]
		x0, x1 := binary.LittleEndian.Uint64(p[0:]), binary.LittleEndian.Uint64(p[8:])
		x2, x3 := binary.LittleEndian.Uint64(p[16:]), binary.LittleEndian.Uint64(p[24:])
		x4, x5 := binary.LittleEndian.Uint64(p[32:]), binary.LittleEndian.Uint64(p[40:])
		x6, x7 := binary.LittleEndian.Uint64(p[48:]), binary.LittleEndian.Uint64(p[56:])
		x := (x0 | x1) | (x2 | x3) | ((x4 | x5) | (x6 | x7))
		y := ((x0 + ones) | (x1 + ones)) | ((x2 + ones) | (x3 + ones)) |
			(((x4 + ones) | (x5 + ones)) | ((x6 + ones) | (x7 + ones)))
		if (x|y)&tops != 0 {
			break
		}
	}
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if (x|(x+ones))&tops != 0 {
			break
		}
	}
	for i < len(b) && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		_, err := w.Write(b)
		return err
	}
	out := make([]byte, i, len(b)+12)
	copy(out, b[:i])
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7f && escapedRune(r) {
			out = append(out, '\\', 'u', hexDigit(r>>12), hexDigit(r>>8), hexDigit(r>>4), hexDigit(r))
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	_, err := w.Write(out)
	return err
}

func hexDigit(r rune) byte { return "0123456789abcdef"[r&0xf] }
