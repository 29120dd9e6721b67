package action

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"lachan/internal/action"
)

// disableAccount locks the password and expires the account, so that
// neither a password nor an SSH key logs in; root is refused, a PC
// without root cannot be looked after.
func (e *Executor) disableAccount(ctx context.Context, a action.Action, r *action.Result) error {
	name := a.Args["user"]
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("local account %q: %w", name, err)
	}
	if u.Uid == "0" {
		return fmt.Errorf("account %s has UID 0; refusing to lock root", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "usermod", "--lock", "--expiredate", "1", "--", name)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		// Systems without usermod (busybox) have passwd -l.
		out.Reset()
		cmd = exec.CommandContext(ctx, "passwd", "-l", name)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err2 := cmd.Run(); err2 != nil {
			return fmt.Errorf("usermod --lock %s: %v; passwd -l: %v: %s", name, err, err2, strings.TrimSpace(out.String()))
		}
		r.Evidence["method"] = "passwd -l"
	} else {
		r.Evidence["method"] = "usermod --lock --expiredate 1"
	}
	r.Evidence["user.name"], r.Evidence["user.id"] = name, u.Uid
	r.Output = strings.TrimSpace("đã khoá tài khoản / account disabled: " + name + "\n" + out.String())
	return nil
}
