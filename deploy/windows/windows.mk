# The Windows agent and its installer, built on Linux (included by the
# Makefile). deploy/windows/build.sh does the work; the tests in
# test/windows run the same script.
#
#   make windows                    dist/lachan-agent.exe (libyara linked in)
#   make packages-windows           and dist/lachan-agent-$(VERSION).msi
#   make packages-windows SIGN_KEY=key.pem SIGN_CERT=cert.pem   both signed

VERSION   ?= 0.1.0
DIST      ?= dist
SIGN_KEY  ?=
SIGN_CERT ?=
WIN_PKGS  := gcc-mingw-w64-x86-64 wixl msitools osslsigncode

.PHONY: windows packages-windows

windows: deps
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(WIN_PKGS)"
	SIGN_KEY="$(SIGN_KEY)" SIGN_CERT="$(SIGN_CERT)" deploy/windows/build.sh exe $(DIST)/lachan-agent.exe $(VERSION)

packages-windows: windows
	SIGN_KEY="$(SIGN_KEY)" SIGN_CERT="$(SIGN_CERT)" deploy/windows/build.sh msi $(DIST)/lachan-agent.exe $(DIST)/lachan-agent-$(VERSION).msi $(VERSION)

# make bench also compares the Windows agent's YARA matches with the Linux
# agent's on every shared target, those that take minutes included.
.PHONY: bench-windows
bench: bench-windows
bench-windows: deps
	$(GO) test -count=1 -run TestWineParity -timeout 90m -v ./test/windows -slow
