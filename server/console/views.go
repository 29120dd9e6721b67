package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"lachan/server/store"
)

// kindView is the store kind of a person's saved queue views, one entity
// per person.
const kindView = "console-views"

// maxViews bounds one person's saved views.
const maxViews = 50

// savedView is a named queue filter: its query string.
type savedView struct {
	Name  string `json:"name"`
	Query string `json:"query"`
}

// Href is the queue's address with the view's filter. The query is
// parsed and encoded again, so what goes into the page is a query
// string this code wrote, whatever the store holds.
func (v savedView) Href() template.URL {
	q, err := url.ParseQuery(v.Query)
	if err != nil {
		return "/incidents"
	}
	return template.URL("/incidents?" + q.Encode())
}

func (c *Console) views(ctx context.Context, name string) ([]savedView, error) {
	if c.st == nil {
		return nil, nil
	}
	doc, _, err := c.st.GetEntity(ctx, kindView, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read views of %s: %w", name, err)
	}
	var vs []savedView
	if err := json.Unmarshal(doc, &vs); err != nil {
		return nil, fmt.Errorf("stored views of %s: %w", name, err)
	}
	return vs, nil
}

// saveView stores the queue's current filter under a name, replacing a
// view of that name. The query is checked as the queue checks it, so a
// saved view always opens.
func (c *Console) saveView(q req) {
	name, query := q.r.PostFormValue("name"), q.r.PostFormValue("query")
	if c.st == nil {
		c.problem(q.w, q.r, http.StatusServiceUnavailable, "err.views")
		return
	}
	if name == "" || utf8.RuneCountInString(name) > 60 || len(query) > 2000 {
		c.problem(q.w, q.r, http.StatusBadRequest, "err.viewname")
		return
	}
	v, err := url.ParseQuery(query)
	if err == nil {
		_, err = parseQueueFilter(v)
	}
	if err != nil {
		c.render(q.w, q.r, http.StatusBadRequest, "problem", q.view("problem.title", "", nil).withError(err.Error()))
		return
	}
	err = store.RetryConflicts(q.r.Context(), func() error {
		doc, ver, err := c.st.GetEntity(q.r.Context(), kindView, q.me.Name)
		var vs []savedView
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(doc, &vs); err != nil {
				return fmt.Errorf("stored views of %s: %w", q.me.Name, err)
			}
		}
		vs = slices.DeleteFunc(vs, func(s savedView) bool { return s.Name == name })
		vs = append(vs, savedView{Name: name, Query: query})
		if len(vs) > maxViews {
			vs = vs[len(vs)-maxViews:]
		}
		b, _ := json.Marshal(vs)
		_, err = c.st.PutEntity(q.r.Context(), kindView, q.me.Name, b, ver)
		return err
	})
	if err != nil {
		c.fail(q, fmt.Errorf("save view: %w", err))
		return
	}
	http.Redirect(q.w, q.r, "/incidents?"+query, http.StatusSeeOther)
}
