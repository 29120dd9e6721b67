//go:build !unix

package content

// lock does nothing where flock(2) is missing: the server runs on Linux.
func (d Dir) lock() (func(), error) { return func() {}, nil }
