package eventlog

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Event Log API (wevtapi.dll), which x/sys/windows does not wrap.
var (
	modwevtapi            = windows.NewLazySystemDLL("wevtapi.dll")
	procEvtSubscribe      = modwevtapi.NewProc("EvtSubscribe")
	procEvtNext           = modwevtapi.NewProc("EvtNext")
	procEvtRender         = modwevtapi.NewProc("EvtRender")
	procEvtClose          = modwevtapi.NewProc("EvtClose")
	procEvtCreateBookmark = modwevtapi.NewProc("EvtCreateBookmark")
	procEvtUpdateBookmark = modwevtapi.NewProc("EvtUpdateBookmark")
)

// evtHandle is an EVT_HANDLE.
type evtHandle uintptr

// EVT_SUBSCRIBE_FLAGS and EVT_RENDER_FLAGS.
const (
	evtSubscribeToFutureEvents      = 1
	evtSubscribeStartAtOldestRecord = 2
	evtSubscribeStartAfterBookmark  = 3

	evtRenderEventXml = 1
	evtRenderBookmark = 2
)

// Errors the pull loop expects.
const (
	errorNoMoreItems       = syscall.Errno(259)  // ERROR_NO_MORE_ITEMS
	errorInsufficientBuf   = syscall.Errno(122)  // ERROR_INSUFFICIENT_BUFFER
	errorInvalidOperation  = syscall.Errno(4317) // ERROR_INVALID_OPERATION
	errorEvtChannelMissing = syscall.Errno(15007)
	errorTimeout           = syscall.Errno(1460) // ERROR_TIMEOUT
)

func callErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return syscall.EINVAL
}

// evtSubscribe opens a pull subscription: signal is set whenever events
// are waiting for evtNext.
func evtSubscribe(signal windows.Handle, channel, query string, bookmark evtHandle, flags uint32) (evtHandle, error) {
	ch, err := windows.UTF16PtrFromString(channel)
	if err != nil {
		return 0, err
	}
	q, err := windows.UTF16PtrFromString(query)
	if err != nil {
		return 0, err
	}
	r, _, e := procEvtSubscribe.Call(0, uintptr(signal), uintptr(unsafe.Pointer(ch)), uintptr(unsafe.Pointer(q)),
		uintptr(bookmark), 0, 0, uintptr(flags))
	if r == 0 {
		return 0, callErr(e)
	}
	return evtHandle(r), nil
}

// evtNext fills events with up to len(events) handles, which the caller
// closes; it returns how many.
func evtNext(sub evtHandle, events []evtHandle, timeoutMS uint32) (int, error) {
	var n uint32
	r, _, e := procEvtNext.Call(uintptr(sub), uintptr(len(events)), uintptr(unsafe.Pointer(&events[0])),
		uintptr(timeoutMS), 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return 0, callErr(e)
	}
	return int(n), nil
}

// evtRenderXML renders an event or a bookmark (flag) as XML text; buf is
// reused across calls and grown when Windows asks for more.
func evtRenderXML(h evtHandle, flag uint32, buf *[]uint16) (string, error) {
	for range 2 {
		var used, props uint32
		var p *uint16
		if len(*buf) > 0 {
			p = &(*buf)[0]
		}
		r, _, e := procEvtRender.Call(0, uintptr(h), uintptr(flag), uintptr(len(*buf)*2), uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if r != 0 {
			return windows.UTF16ToString((*buf)[:used/2]), nil
		}
		if err := callErr(e); err != errorInsufficientBuf {
			return "", err
		}
		*buf = make([]uint16, used/2+1)
	}
	return "", fmt.Errorf("EvtRender: buffer still too small")
}

func evtClose(h evtHandle) {
	if h != 0 {
		procEvtClose.Call(uintptr(h))
	}
}

// evtCreateBookmark makes a bookmark from its saved XML, or an empty one
// for "".
func evtCreateBookmark(xml string) (evtHandle, error) {
	var p *uint16
	if xml != "" {
		var err error
		if p, err = windows.UTF16PtrFromString(xml); err != nil {
			return 0, err
		}
	}
	r, _, e := procEvtCreateBookmark.Call(uintptr(unsafe.Pointer(p)))
	if r == 0 {
		return 0, callErr(e)
	}
	return evtHandle(r), nil
}

func evtUpdateBookmark(bookmark, ev evtHandle) error {
	r, _, e := procEvtUpdateBookmark.Call(uintptr(bookmark), uintptr(ev))
	if r == 0 {
		return callErr(e)
	}
	return nil
}
