//go:build cgo

package yara

import goyara "lachan/agent/yara/libyara"

// Library names the YARA binding and the libyara this build links.
func Library() string { return goyara.Binding }
