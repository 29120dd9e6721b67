package action

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"lachan/internal/action"
)

// disableAccount sets a local account inactive with net user.
func (e *Executor) disableAccount(ctx context.Context, a action.Action, r *action.Result) error {
	name := a.Args["user"]
	if strings.EqualFold(name, "Administrator") {
		return fmt.Errorf("refusing to disable the built-in Administrator account")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "net", "user", name, "/active:no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("net user %s /active:no: %v: %s", name, err, strings.TrimSpace(out.String()))
	}
	r.Evidence["user.name"], r.Evidence["method"] = name, "net user /active:no"
	r.Output = strings.TrimSpace("đã khoá tài khoản / account disabled: " + name + "\n" + out.String())
	return nil
}
