// Package pkg tests the Debian packages as a city installs them: both
// .deb files built by deploy/debian/mkdeb are installed with apt into a
// fresh Debian root made by debootstrap (kept as a tarball under
// $XDG_CACHE_HOME/lachan, or ~/.cache/lachan, per suite), inside a chroot
// in private mount, network and PID namespaces, so that the server and
// the agent talk over their own loopback and everything they started dies
// with the test. The commands come from the guides in docs/install/,
// run as written; systemd does not run in a chroot, so the test starts
// the services as their units would (ExecStart, User).
//
// It needs root, debootstrap, unshare and nsenter; it fails rather than
// skips without them when CI=true.
package pkg
