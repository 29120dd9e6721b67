//go:build !linux && !windows

package action

import (
	"context"
	"errors"

	"lachan/internal/action"
)

func (e *Executor) disableAccount(context.Context, action.Action, *action.Result) error {
	return errors.New("disable-account is implemented on Linux and Windows only")
}
