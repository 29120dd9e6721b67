package console

import "net/http"

// ruleSet mirrors the API's rule set (api.RuleSet); the console does not
// import the API it is mounted in.
type ruleSet struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Switchable bool   `json:"switchable"`
	Failed     []string
	Rules      []struct {
		ID, Title, Level, Status, File string
		Warnings                       int
	} `json:"rules"`
}

// rules shows the rule sets the server runs and the files it could not
// load, each with file:line. Rules cannot be switched at run time yet
// (a rule is turned off by removing its file), so the page shows state.
func (c *Console) rules(q req) {
	var ans struct {
		Sets []ruleSet `json:"sets"`
	}
	if err := c.call(q.r, q.secret, http.MethodGet, "/api/v1/rules/status", nil, nil, &ans); err != nil {
		c.fail(q, err)
		return
	}
	c.render(q.w, q.r, http.StatusOK, "rules", q.view("rules.title", "rules", ans.Sets))
}
