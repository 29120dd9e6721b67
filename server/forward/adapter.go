package forward

import (
	"context"
	"errors"
	"fmt"
)

// Adapter delivers bundles to one upstream. Send must be idempotent by
// STIX object ID: the outbox sends a bundle again whenever it cannot tell
// whether the last try arrived.
type Adapter interface {
	Send(ctx context.Context, b Bundle) (Receipt, error)
	Name() string
}

// Receipt is the upstream's acknowledgement of a bundle.
type Receipt struct {
	Target     string `json:"target"`
	HTTPStatus int    `json:"http_status,omitempty"`
	StatusID   string `json:"status_id,omitempty"`
	Status     string `json:"status,omitempty"`
	Successes  int    `json:"successes"`
	Failures   int    `json:"failures"`
}

// SendError is a failed delivery with what the target answered, if it
// answered. Permanent says a retry cannot help (the target refused the
// bundle itself); otherwise the outbox backs off and tries again.
type SendError struct {
	Status    int
	Permanent bool
	Err       error
}

func (e *SendError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("status %d: %v", e.Status, e.Err)
	}
	return e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// statusOf returns the HTTP status an error carries, or 0.
func statusOf(err error) int {
	var se *SendError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func permanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}
