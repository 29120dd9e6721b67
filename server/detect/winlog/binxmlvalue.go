package winlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Value types of template substitutions (the EVT_VARIANT types); 0x80
// marks an array of the type.
const (
	typeNull       = 0x00
	typeString     = 0x01
	typeANSIString = 0x02
	typeInt8       = 0x03
	typeUint8      = 0x04
	typeInt16      = 0x05
	typeUint16     = 0x06
	typeInt32      = 0x07
	typeUint32     = 0x08
	typeInt64      = 0x09
	typeUint64     = 0x0a
	typeFloat32    = 0x0b
	typeFloat64    = 0x0c
	typeBool       = 0x0d
	typeBinary     = 0x0e
	typeGUID       = 0x0f
	typeSizeT      = 0x10
	typeFileTime   = 0x11
	typeSystemTime = 0x12
	typeSID        = 0x13
	typeHexInt32   = 0x14
	typeHexInt64   = 0x15
	typeBinXML     = 0x21
	typeArray      = 0x80
)

// windowsTime is how Windows renders FILETIME and SYSTEMTIME values: UTC
// with seven decimals, the FILETIME's 100 ns.
const windowsTime = "2006-01-02T15:04:05.0000000Z"

// fixedSize is the size of one value of a fixed-size type, 0 for others.
func fixedSize(typ byte) int {
	switch typ {
	case typeInt8, typeUint8:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32, typeFloat32, typeBool, typeHexInt32:
		return 4
	case typeInt64, typeUint64, typeFloat64, typeFileTime, typeHexInt64:
		return 8
	case typeGUID, typeSystemTime:
		return 16
	}
	return 0
}

// render gives a substitution value as Windows renders it in the event's
// XML. The items of an array are joined by commas.
func (b *binXML) render(v value) (string, error) {
	p := b.chunk[v.off : v.off+v.len]
	b.text += len(p)
	if v.typ&typeArray == 0 {
		return renderScalar(v.typ, p)
	}
	typ := v.typ &^ typeArray
	var items []string
	switch typ {
	case typeString:
		items = strings.Split(strings.TrimRight(decodeUTF16(p), "\x00"), "\x00")
	case typeANSIString:
		items = strings.Split(strings.TrimRight(string(p), "\x00"), "\x00")
	default:
		n := fixedSize(typ)
		if n == 0 || len(p)%n != 0 {
			return "", fmt.Errorf("array of value type 0x%02x in %d bytes", typ, len(p))
		}
		for i := 0; i < len(p); i += n {
			s, err := renderScalar(typ, p[i:i+n])
			if err != nil {
				return "", err
			}
			items = append(items, s)
		}
	}
	return strings.Join(items, ","), nil
}

func renderScalar(typ byte, p []byte) (string, error) {
	if n := fixedSize(typ); n != 0 && len(p) != n && !(typ == typeBool && len(p) >= 1 && len(p) <= 8) {
		return "", fmt.Errorf("value of type 0x%02x in %d bytes, want %d", typ, len(p), n)
	}
	le := binary.LittleEndian
	switch typ {
	case typeString:
		return strings.TrimRight(decodeUTF16(p), "\x00"), nil
	case typeANSIString:
		return strings.TrimRight(string(p), "\x00"), nil
	case typeInt8:
		return strconv.Itoa(int(int8(p[0]))), nil
	case typeUint8:
		return strconv.Itoa(int(p[0])), nil
	case typeInt16:
		return strconv.Itoa(int(int16(le.Uint16(p)))), nil
	case typeUint16:
		return strconv.Itoa(int(le.Uint16(p))), nil
	case typeInt32:
		return strconv.Itoa(int(int32(le.Uint32(p)))), nil
	case typeUint32:
		return strconv.FormatUint(uint64(le.Uint32(p)), 10), nil
	case typeInt64:
		return strconv.FormatInt(int64(le.Uint64(p)), 10), nil
	case typeUint64:
		return strconv.FormatUint(le.Uint64(p), 10), nil
	case typeFloat32:
		return strconv.FormatFloat(float64(math.Float32frombits(le.Uint32(p))), 'g', -1, 32), nil
	case typeFloat64:
		return strconv.FormatFloat(math.Float64frombits(le.Uint64(p)), 'g', -1, 64), nil
	case typeBool:
		for _, c := range p {
			if c != 0 {
				return "true", nil
			}
		}
		return "false", nil
	case typeBinary:
		return strings.ToUpper(hex.EncodeToString(p)), nil
	case typeGUID:
		return fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", le.Uint32(p), le.Uint16(p[4:]), le.Uint16(p[6:]),
			binary.BigEndian.Uint16(p[8:]), p[10:16]), nil
	case typeSizeT:
		switch len(p) {
		case 4:
			return fmt.Sprintf("0x%x", le.Uint32(p)), nil
		case 8:
			return fmt.Sprintf("0x%x", le.Uint64(p)), nil
		}
		return "", fmt.Errorf("size_t value in %d bytes", len(p))
	case typeHexInt32:
		return fmt.Sprintf("0x%x", le.Uint32(p)), nil
	case typeHexInt64:
		return fmt.Sprintf("0x%x", le.Uint64(p)), nil
	case typeFileTime:
		return fileTime(le.Uint64(p)).Format(windowsTime), nil
	case typeSystemTime:
		f := func(i int) int { return int(le.Uint16(p[2*i:])) }
		t := time.Date(f(0), time.Month(f(1)), f(3), f(4), f(5), f(6), f(7)*int(time.Millisecond), time.UTC)
		return t.Format(windowsTime), nil
	case typeSID:
		return sid(p)
	}
	// Types Windows does not put in event records (handles, EvtXml): kept
	// as hexadecimal rather than lost.
	return strings.ToUpper(hex.EncodeToString(p)), nil
}

// fileTime converts 100 ns intervals since 1601 to a time.
func fileTime(ft uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	sec := int64(ft/1e7) - epochDiff/1e7
	return time.Unix(sec, int64(ft%1e7)*100).UTC()
}

// sid renders a security identifier: S-revision-authority-subauthorities,
// the authority in hexadecimal when it does not fit 32 bits.
func sid(p []byte) (string, error) {
	if len(p) < 8 || len(p) != 8+4*int(p[1]) {
		return "", fmt.Errorf("SID of %d bytes", len(p))
	}
	var auth uint64
	for _, c := range p[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "S-%d-", p[0])
	if auth >= 1<<32 {
		fmt.Fprintf(&s, "0x%012X", auth)
	} else {
		s.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := 8; i < len(p); i += 4 {
		s.WriteByte('-')
		s.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(p[i:])), 10))
	}
	return s.String(), nil
}
