package jsonlex

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"testing"
)

// FuzzNumber: Number accepts exactly the literals encoding/json accepts as
// a whole number, and says which are integers.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "12", "1.5", "-2e10", "1E+2", "01", "1.", ".5", "-", "1e", "9223372036854775808", "3x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end, integer, ok := Number([]byte(s), 0)
		whole := ok && end == len(s)
		valid := json.Valid([]byte(s)) && !strings.ContainsAny(s, " \t\r\n") && len(s) > 0 && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
		if whole != valid {
			t.Fatalf("%q: Number says %v (end %d), encoding/json %v", s, whole, end, valid)
		}
		if whole {
			_, err := strconv.ParseInt(s, 10, 64)
			if err == nil && !integer {
				t.Fatalf("%q: an integer read as not one", s)
			}
		}
	})
}

func TestHex4AndEscape(t *testing.T) {
	for in, want := range map[string]rune{"0041": 'A', "00e9": 'é', "D83D": 0xd83d, "ffFF": 0xffff} {
		if r, ok := Hex4([]byte(in)); !ok || r != want {
			t.Errorf("Hex4(%q) = %U %v, want %U", in, r, ok, want)
		}
	}
	for _, bad := range []string{"", "12", "12g4", "-123"} {
		if _, ok := Hex4([]byte(bad)); ok {
			t.Errorf("Hex4(%q) accepted", bad)
		}
	}
	for in, want := range map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'} {
		if c, ok := Escape(in); !ok || c != want {
			t.Errorf("Escape(%q) = %q %v", in, c, ok)
		}
	}
	for _, bad := range []byte{'u', 'x', '0', ' '} {
		if _, ok := Escape(bad); ok {
			t.Errorf("Escape(%q) accepted", bad)
		}
	}
	if got := SkipSpace([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipSpace = %d", got)
	}
}

// TestSpecial8 checks the word test against the bytes one by one: every
// byte value at every position, among plain letters and among other
// special bytes; and that the lowest byte SpecialMask8 flags is the first
// special one, with special bytes after it too.
func TestSpecial8(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	for _, fill := range []byte{'a', ' ', '~', '!', '#', '[', ']'} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				x := binary.LittleEndian.Uint64(w[:])
				want := false
				for _, b := range w {
					want = want || special(b)
				}
				if got := Special8(x); got != want {
					t.Fatalf("%q: Special8 %v, want %v", w, got, want)
				}
				// Whatever follows the byte, SpecialMask8's lowest
				// flag is the first special byte.
				for later := pos; later < 8; later++ {
					for _, d := range []byte{fill, 0, 0x1f, '"', '\\', 0x7f, 0x80, 0xff, '!', '#', ']'} {
						v := w
						if later > pos {
							v[later] = d
						}
						first := 8
						for i, b := range v {
							if special(b) {
								first = i
								break
							}
						}
						m := SpecialMask8(binary.LittleEndian.Uint64(v[:]))
						if got := bits.TrailingZeros64(m) / 8; got != first {
							t.Fatalf("%q: SpecialMask8 flags byte %d first, want %d", v, got, first)
						}
					}
				}
			}
		}
	}
}
