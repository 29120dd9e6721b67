package action

import (
	"errors"
	"fmt"
	"time"
)

// Result statuses an agent reports.
const (
	// ResultDone: the action ran and did what it says.
	ResultDone = "done"
	// ResultFailed: the action ran, or started, and did not succeed.
	ResultFailed = "failed"
	// ResultRefused: the agent did nothing (forged, expired, replayed,
	// misdirected, malformed); Reason says why.
	ResultRefused = "refused"
)

// MaxFileBytes bounds a file collect-file sends (the agent's own cap may
// be lower); MaxResultBytes bounds a whole result as sent.
const (
	MaxFileBytes   = 16 << 20
	MaxResultBytes = MaxFileBytes*4/3 + 1<<20
)

// Result is what an agent reports for one action it received.
type Result struct {
	ActionID string    `json:"action_id"`
	AgentID  string    `json:"agent_id"`
	Kind     string    `json:"kind,omitempty"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished"`
	// Output is a command's output or a short account of what was done.
	Output string `json:"output,omitempty"`
	// Evidence are facts about what was acted on: hashes, file metadata,
	// the process killed, the addresses allowed.
	Evidence map[string]string `json:"evidence,omitempty"`
	// File is a collected file's content (collect-file only).
	File []byte `json:"file,omitempty"`
}

// Check validates a result's shape before the server stores it.
func (r Result) Check() error {
	if !idRE.MatchString(r.ActionID) {
		return fmt.Errorf("%w: action_id %q", ErrMalformed, r.ActionID)
	}
	switch r.Status {
	case ResultDone, ResultFailed, ResultRefused:
	default:
		return fmt.Errorf("%w: status %q is none of done, failed, refused", ErrMalformed, r.Status)
	}
	if len(r.File) > MaxFileBytes {
		return fmt.Errorf("%w: file of %d bytes above %d", ErrMalformed, len(r.File), MaxFileBytes)
	}
	if len(r.Output) > 1<<20 || len(r.Reason) > 4<<10 {
		return errors.New("action result: output above 1 MiB or reason above 4 KiB")
	}
	return nil
}
