package sensor

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
)

// dnsTypeNames holds the IANA mnemonics of the resource record types;
// others print as TYPEnnn (RFC 3597).
var dnsTypeNames = map[layers.DNSType]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
	10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT",
	17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR",
	24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT",
	31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT",
	38: "A6", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP",
	45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3",
	51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY",
	58: "TALINK", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
	64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
	253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA",
}

func typeName(t layers.DNSType) string {
	if n, ok := dnsTypeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// className names a class. mDNS uses the top bit of the class for the
// unicast-response and cache-flush flags, so it is masked there.
func className(c layers.DNSClass, mdns bool) string {
	if mdns {
		c &= 0x7fff
	}
	switch c {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c))
}

var rcodeNames = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI"}

func rcodeName(rc layers.DNSResponseCode) string {
	if int(rc) < len(rcodeNames) {
		return rcodeNames[rc]
	}
	if rc == 16 {
		return "BADVERS"
	}
	return "RCODE" + strconv.Itoa(int(rc))
}

func opcodeName(op layers.DNSOpCode) string {
	switch op {
	case 0:
		return "QUERY"
	case 1:
		return "IQUERY"
	case 2:
		return "STATUS"
	case 4:
		return "NOTIFY"
	case 5:
		return "UPDATE"
	case 6:
		return "DSO"
	}
	return strconv.Itoa(int(op))
}

// dnsName renders a name. NetBIOS name service packets carry names in the
// RFC 1001 "first-level encoding" (each nibble as a letter A-P); those are
// decoded to the NetBIOS name without its padding and suffix byte.
func dnsName(name []byte, netbios bool) string {
	if netbios {
		if n, ok := decodeNetBIOS(name); ok {
			return n
		}
	}
	if len(name) > maxDataLen {
		name = name[:maxDataLen]
	}
	return string(name)
}

func decodeNetBIOS(name []byte) (string, bool) {
	label := name
	if i := bytes.IndexByte(name, '.'); i >= 0 {
		label = name[:i] // the rest is the NetBIOS scope
	}
	if len(label) != 32 {
		return "", false
	}
	var out [16]byte
	for i := 0; i < 32; i += 2 {
		hi, lo := label[i]-'A', label[i+1]-'A'
		if hi > 15 || lo > 15 {
			return "", false
		}
		out[i/2] = hi<<4 | lo
	}
	return strings.TrimRight(string(out[:15]), " \x00"), true
}

// maxDataLen bounds one answer's rendered data, and maxAnswers the answers
// kept per message, so that a hostile response cannot make an event the
// store rejects.
const (
	maxDataLen = 4096
	maxAnswers = 256
)

// rrData renders a record's data in zone-file presentation form, cut to
// maxDataLen bytes.
func rrData(rr *layers.DNSResourceRecord) string {
	s := rrPresentation(rr)
	if len(s) > maxDataLen {
		s = strings.ToValidUTF8(s[:maxDataLen], "")
	}
	return s
}

func rrPresentation(rr *layers.DNSResourceRecord) string {
	switch rr.Type {
	case layers.DNSTypeA, layers.DNSTypeAAAA:
		if rr.IP != nil {
			return rr.IP.String()
		}
	case layers.DNSTypeCNAME:
		return string(rr.CNAME)
	case layers.DNSTypeNS:
		return string(rr.NS)
	case layers.DNSTypePTR:
		return string(rr.PTR)
	case layers.DNSTypeMX:
		return strconv.Itoa(int(rr.MX.Preference)) + " " + string(rr.MX.Name)
	case layers.DNSTypeSRV:
		return strconv.Itoa(int(rr.SRV.Priority)) + " " + strconv.Itoa(int(rr.SRV.Weight)) + " " +
			strconv.Itoa(int(rr.SRV.Port)) + " " + string(rr.SRV.Name)
	case layers.DNSTypeSOA:
		s := rr.SOA
		return string(s.MName) + " " + string(s.RName) + " " + strconv.FormatUint(uint64(s.Serial), 10) + " " +
			strconv.FormatUint(uint64(s.Refresh), 10) + " " + strconv.FormatUint(uint64(s.Retry), 10) + " " +
			strconv.FormatUint(uint64(s.Expire), 10) + " " + strconv.FormatUint(uint64(s.Minimum), 10)
	case layers.DNSTypeTXT:
		return txtData(rr.TXTs)
	}
	// RFC 3597 generic form for everything else.
	return `\# ` + strconv.Itoa(len(rr.Data)) + " " + hex.EncodeToString(rr.Data)
}

// txtData renders the character-strings of a TXT record as Zeek's
// dns.log does: "TXT <length> <text>" for each, joined by spaces, with no
// quotes. The lengths keep the strings apart (a DKIM key split into
// 255-byte strings reads back whole) where a space inside one would not.
// Bytes outside printable ASCII, and the backslash, are written \xHH as
// Zeek's logs escape them, so that the data is text whatever was sent.
func txtData(txts [][]byte) string {
	var sb strings.Builder
	for i, t := range txts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString("TXT ")
		sb.WriteString(strconv.Itoa(len(t)))
		sb.WriteByte(' ')
		for _, c := range t {
			if c < 0x20 || c > 0x7e || c == '\\' {
				sb.WriteString(`\x`)
				sb.WriteByte(hexDigits[c>>4])
				sb.WriteByte(hexDigits[c&0xf])
				continue
			}
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

const hexDigits = "0123456789abcdef"
