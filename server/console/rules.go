package console

import (
	"net/http"
	"net/url"
)

// ruleSet mirrors the API's rule set (api.RuleSet); the console does not
// import the API it is mounted in.
type ruleSet struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Switchable bool   `json:"switchable"`
	Failed     []string
	Rules      []ruleInfo `json:"rules"`
}

// ruleInfo mirrors api.RuleInfo.
type ruleInfo struct {
	ID, Title, Level, Status, File string
	Warnings                       int
	Off                            bool
}

// rulesData is the rules page: the sets, and the one whose list is
// shown open (after a switch).
type rulesData struct {
	Sets []ruleSet
	Open string
}

// OffCount counts the set's rules switched off.
func (s ruleSet) OffCount() int {
	n := 0
	for _, r := range s.Rules {
		if r.Off {
			n++
		}
	}
	return n
}

// rules shows the rule sets the server runs and the files it could not
// load, each with file:line, and which rules are switched off; rules of
// a switchable set (Sigma) are switched here (switchRule).
func (c *Console) rules(q req) {
	var ans struct {
		Sets []ruleSet `json:"sets"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/rules/status", nil, nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	d := rulesData{Sets: ans.Sets, Open: q.r.URL.Query().Get("open")}
	c.render(q.w, q.r, http.StatusOK, "rules", q.view("rules.title", "rules", d))
}

// switchRule switches one rule on or off through the API, which checks
// the permission and audits it.
func (c *Console) switchRule(q req) {
	set, id, to := q.r.PathValue("set"), q.r.PathValue("id"), q.r.PathValue("to")
	if to != "on" && to != "off" {
		c.problem(q.w, q.r, http.StatusNotFound, "err.notfound", q.r.URL.Path)
		return
	}
	if err := c.call(q.r, q.secret, http.MethodPut, "/api/v1/rules/"+url.PathEscape(set)+"/"+url.PathEscape(id), nil,
		map[string]bool{"enabled": to == "on"}, nil); err != nil {
		c.fail(q, err)
		return
	}
	http.Redirect(q.w, q.r, "/rules?open="+url.QueryEscape(set)+"#rule-"+url.QueryEscape(id), http.StatusSeeOther)
}
