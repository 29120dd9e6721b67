package indicator

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one line of a plain list; a longer line is reported and
// skipped.
const maxLine = 64 << 10

// ParsePlain reads a plain indicator list: one value a line, its type
// inferred (hashes by length, URLs by their scheme, addresses and CIDR
// networks, domain names); blank lines and everything after a "#" are
// ignored. A line may give the type first ("domain evil.example") when
// inference would guess wrong. Each bad line is reported as source:line
// and skipped; the others are returned.
func ParsePlain(r io.Reader, source string) ([]Indicator, []error) {
	var out []Indicator
	var errs []error
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && line == "" && !tooLong {
			if err != io.EOF {
				errs = append(errs, fmt.Errorf("%s:%d: read: %w", source, n, err))
			}
			return out, errs
		}
		if tooLong {
			errs = append(errs, fmt.Errorf("%s:%d: line longer than %d bytes", source, n, maxLine))
		} else if ind, ok, perr := plainLine(line, source); perr != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", source, n, perr))
		} else if ok {
			out = append(out, ind)
		}
		if err != nil {
			return out, errs
		}
	}
}

// readLine reads one line without its end, discarding the rest of a line
// over maxLine.
func readLine(br *bufio.Reader) (string, bool, error) {
	var sb strings.Builder
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if sb.Len()+len(chunk) > maxLine+2 {
				tooLong = true
				sb.Reset()
			} else {
				sb.Write(chunk)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		s := strings.TrimRight(sb.String(), "\r\n")
		if err == nil {
			return s, tooLong, nil
		}
		return s, tooLong, err
	}
}

func plainLine(line, source string) (Indicator, bool, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 && !strings.Contains(line[:i], "://") {
		line = line[:i]
	} else if i >= 0 {
		// A URL may hold a fragment; only " #" starts a comment after one.
		if j := strings.Index(line, " #"); j >= 0 {
			line = line[:j]
		}
	}
	fields := strings.Fields(line)
	var typ, val string
	switch len(fields) {
	case 0:
		return Indicator{}, false, nil
	case 1:
		val = fields[0]
		t, ok := Infer(val)
		if !ok {
			return Indicator{}, false, fmt.Errorf("%.80q: not a hash, URL, IP address, network or domain name", val)
		}
		typ = t
	case 2:
		typ, val = strings.ToLower(fields[0]), fields[1]
	default:
		return Indicator{}, false, fmt.Errorf("%d words; want a value, or a type and a value", len(fields))
	}
	ind := Indicator{Type: typ, Value: val, Source: source}
	if err := ind.Check(); err != nil {
		return Indicator{}, false, err
	}
	return ind, true, nil
}
