//go:build !linux && !windows

package action

import (
	"errors"

	"lachan/internal/action"
)

func killChecked(int, func(proc) error, *action.Result) error {
	return errors.New("kill-process is implemented on Linux and Windows only")
}
