package indicator

import (
	"net/netip"
	"strings"

	"lachan/internal/event"
	"lachan/server/detect"
)

// Fields lists, per indicator type, the event fields searched for it.
var Fields = map[string][]string{
	TypeMD5:    {"file.hash.md5", "process.hash.md5", "dll.hash.md5"},
	TypeSHA1:   {"file.hash.sha1", "process.hash.sha1", "dll.hash.sha1"},
	TypeSHA256: {"file.hash.sha256", "process.hash.sha256", "dll.hash.sha256"},
	TypeDomain: {"dns.question.name", "url.domain", "destination.domain", "server.domain",
		"tls.client.server_name", "http.request.host"},
	TypeIP:  {"destination.ip", "source.ip", "client.ip", "server.ip", "dns.resolved_ip"},
	TypeURL: {"url.full", "url.original"},
}

// stixTypes names each type as threat.indicator.type does (STIX's
// cyber-observable types).
var stixTypes = map[string]string{
	TypeMD5: "file", TypeSHA1: "file", TypeSHA256: "file",
	TypeDomain: "domain-name", TypeIP: "ipv4-addr", TypeURL: "url",
}

// index is an immutable lookup structure over a set's indicators.
type index struct {
	all   []*Indicator
	exact map[string][]*Indicator // type + "\x00" + value
	// nets holds networks by prefix length, so an address is looked up
	// once per length present rather than against every network.
	nets map[int]map[netip.Prefix][]*Indicator
	bits []int
	has  map[string]bool
}

func buildIndex(all []*Indicator) *index {
	x := &index{all: all, exact: map[string][]*Indicator{}, nets: map[int]map[netip.Prefix][]*Indicator{}, has: map[string]bool{}}
	for _, ind := range all {
		x.has[ind.Type] = true
		if ind.Type == TypeIP && strings.Contains(ind.Value, "/") {
			p, err := netip.ParsePrefix(ind.Value)
			if err != nil {
				continue // Check made it canonical; unreachable
			}
			m := x.nets[p.Bits()]
			if m == nil {
				m = map[netip.Prefix][]*Indicator{}
				x.nets[p.Bits()] = m
				x.bits = append(x.bits, p.Bits())
			}
			m[p] = append(m[p], ind)
			continue
		}
		k := ind.Type + "\x00" + ind.Value
		x.exact[k] = append(x.exact[k], ind)
	}
	return x
}

// find calls hit for every indicator found in ev, with the field and the
// value it was found in.
func (x *index) find(ev event.Event, hit func(ind *Indicator, field, value string)) {
	for _, typ := range Types {
		if !x.has[typ] {
			continue
		}
		for _, f := range Fields[typ] {
			v, ok := ev.Fields[f]
			if !ok {
				continue
			}
			forEachString(v, func(s string) {
				for _, ind := range x.lookup(typ, s) {
					hit(ind, f, s)
				}
			})
		}
	}
}

func forEachString(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, el := range x {
			if s, ok := el.(string); ok {
				fn(s)
			}
		}
	case []string:
		for _, s := range x {
			fn(s)
		}
	}
}

// lookup returns the indicators of a type that an event value hits.
func (x *index) lookup(typ, s string) []*Indicator {
	switch typ {
	case TypeDomain:
		return x.lookupDomain(s)
	case TypeIP:
		return x.lookupIP(s)
	case TypeURL:
		v, err := normURL(s)
		if err != nil {
			return nil
		}
		return x.exact[typ+"\x00"+v]
	}
	return x.exact[typ+"\x00"+strings.ToLower(s)]
}

// lookupDomain finds the name and every parent domain of it: an indicator
// for a domain covers its subdomains.
func (x *index) lookupDomain(s string) []*Indicator {
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	var out []*Indicator
	for d != "" {
		out = append(out, x.exact[TypeDomain+"\x00"+d]...)
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return out
}

func (x *index) lookupIP(s string) []*Indicator {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil
	}
	a = a.Unmap().WithZone("")
	out := x.exact[TypeIP+"\x00"+a.String()]
	for _, b := range x.bits {
		if b > a.BitLen() {
			continue
		}
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		out = append(out[:len(out):len(out)], x.nets[b][p]...)
	}
	return out
}

// alert builds the alert for one indicator found in one field of ev.
func (s *Set) alert(ind *Indicator, ev event.Event, field, value string) event.Event {
	name := ind.Name
	if name == "" {
		name = "Indicator match: " + ind.Type + " " + ind.Value
	}
	desc := ind.Description
	if desc == "" && ind.Source != "" {
		desc = "Indicator from " + ind.Source
	}
	a := detect.NewAlert(detect.AlertSpec{
		RuleID: "indicator:" + ind.Type, RuleName: name, Level: s.cfg.Level,
		Description: desc, Tags: ind.Labels,
		IDParts: []string{"indicator", ind.ID, field},
	}, ev, map[string]any{field: value})
	a.Set("threat.indicator.type", stixTypes[ind.Type])
	a.Set("threat.indicator.id", ind.ID)
	a.Set("threat.indicator.name", ind.Value)
	a.Set("threat.indicator.matched.field", field)
	a.Set("threat.indicator.matched.atomic", value)
	if ind.Source != "" {
		a.Set("threat.indicator.provider", ind.Source)
	}
	if ind.STIXID != "" {
		a.Set("threat.indicator.reference", ind.STIXID)
	}
	if ind.Confidence > 0 {
		a.Set("threat.indicator.confidence", int64(ind.Confidence))
	}
	if !ind.ValidFrom.IsZero() {
		a.Set("threat.indicator.first_seen", ind.ValidFrom.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	if stixTypes[ind.Type] == "ipv4-addr" && strings.Contains(ind.Value, ":") {
		a.Set("threat.indicator.type", "ipv6-addr")
	}
	return a
}
