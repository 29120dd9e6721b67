// Command mkdeb writes the Debian packages of the server (lachan) and the
// agent (lachan-agent) with nfpm, from binaries already built, the systemd
// units in deploy/systemd and the files and maintainer scripts in
// deploy/debian. `make packages-deb` runs it:
//
//	go run ./deploy/debian/mkdeb -version 1.2.0 -bin bin -out dist
//
// It needs no Docker and no dpkg-deb: nfpm writes the .deb itself.
package main
