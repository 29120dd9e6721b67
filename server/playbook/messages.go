package playbook

import (
	"regexp"
)

var messageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// parseMessages parses a templates file: for each template name, a
// subject and a text, each with vi and en.
func parseMessages(file string, src []byte) (map[string]*Message, []error) {
	p := &parser{file: file}
	out := map[string]*Message{}
	root := p.document(src)
	if root == nil {
		return out, p.errs
	}
	pairs, _ := p.mapping(root, "templates")
	for _, kv := range pairs {
		if !messageNameRE.MatchString(kv.key) {
			p.errorf(kv.kn, "template name %q must be lower-case letters, digits and dashes", kv.key)
			continue
		}
		m := &Message{Name: kv.key}
		parts, _ := p.mapping(kv.v, kv.key, "subject", "text")
		got := map[string]bool{}
		for _, part := range parts {
			langs, _ := p.mapping(part.v, kv.key+"."+part.key, "vi", "en")
			dst := &m.Subject
			if part.key == "text" {
				dst = &m.Text
			}
			for _, l := range langs {
				i := 0
				if l.key == "en" {
					i = 1
				}
				dst[i] = p.template(l.v, kv.key+"."+part.key+"."+l.key)
				got[part.key+"."+l.key] = dst[i] != nil
			}
		}
		ok := true
		for _, need := range []string{"subject.vi", "subject.en", "text.vi", "text.en"} {
			if _, seen := got[need]; !seen {
				p.errorf(kv.kn, "template %s needs %s (Vietnamese first, English second)", kv.key, need)
				ok = false
			} else if !got[need] {
				ok = false
			}
		}
		if ok {
			out[kv.key] = m
		}
	}
	return out, p.errs
}
