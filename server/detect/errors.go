package detect

import (
	"fmt"
	"strings"
)

// Pos is a 1-based line and column in a rule file. A zero Col means the
// column is unknown; a zero Line means the position is unknown.
type Pos struct {
	Line, Col int
}

// Error is a problem with a rule or log-source file at a position.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Pos.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Pos.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Pos.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList is every error found in one file, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find the individual errors.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// flatten appends err to errs, spreading an ErrorList into its errors so
// that callers see one entry per problem.
func flatten(errs []error, err error) []error {
	if l, ok := err.(ErrorList); ok {
		for _, e := range l {
			errs = append(errs, e)
		}
		return errs
	}
	return append(errs, err)
}
