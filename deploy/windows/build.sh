#!/usr/bin/env bash
# Builds the Windows agent and its installer from Linux (make windows,
# make packages-windows; the tests in test/windows run it too).
#
#   build.sh exe OUT.exe VERSION          lachan-agent.exe, libyara linked in
#   build.sh msi EXE OUT.msi VERSION      the MSI around EXE
#
# SIGN_KEY and SIGN_CERT (PEM files), when both are set, sign what is built
# with osslsigncode; SIGN_PASS_FILE holds the key's password if it has one.
# Without them the output is unsigned and a line says so.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

die() { echo "build.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found: install $2 (make test-deps installs it)"; }

# sign FILE: signs FILE in place, or says it is left unsigned.
sign() {
	local f=$1
	if [[ -z ${SIGN_KEY:-} && -z ${SIGN_CERT:-} ]]; then
		echo "build.sh: $f left unsigned (set SIGN_KEY and SIGN_CERT to sign it)" >&2
		return
	fi
	[[ -n ${SIGN_KEY:-} && -n ${SIGN_CERT:-} ]] || die "SIGN_KEY and SIGN_CERT go together"
	[[ -r $SIGN_KEY ]] || die "SIGN_KEY $SIGN_KEY: not readable"
	[[ -r $SIGN_CERT ]] || die "SIGN_CERT $SIGN_CERT: not readable"
	need osslsigncode osslsigncode
	local pass=()
	[[ -n ${SIGN_PASS_FILE:-} ]] && pass=(-readpass "$SIGN_PASS_FILE")
	# The time-stamp server would need the Internet: left out, so the
	# signature is good while the certificate is.
	osslsigncode sign -certs "$SIGN_CERT" -key "$SIGN_KEY" "${pass[@]}" -h sha256 \
		-n "La Chan agent" -i "https://github.com/lachan" -in "$f" -out "$f.signed" >/dev/null
	mv "$f.signed" "$f"
	echo "build.sh: $f signed with $SIGN_CERT" >&2
}

# check_version V: the MSI's ProductVersion is three numbers, the first two
# below 256 and the third below 65536.
check_version() {
	[[ $1 =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "VERSION $1: want MAJOR.MINOR.BUILD, numbers only (an MSI takes nothing else)"
	(( BASH_REMATCH[1] < 256 && BASH_REMATCH[2] < 256 && BASH_REMATCH[3] < 65536 )) || die "VERSION $1: MSI limits are 255.255.65535"
}

build_exe() {
	local out=$1 version=$2
	need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
	mkdir -p "$(dirname "$out")"
	# -extldflags -static: libgcc and winpthread inside the .exe, so that it
	# needs nothing but Windows' own DLLs.
	(cd "$root" && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
		go build -trimpath -ldflags "-s -w -X main.version=$version -extldflags=-static" \
		-o "$out" ./agent/cmd/lachan-agent)
	sign "$out"
}

build_msi() {
	local exe=$1 out=$2 version=$3
	check_version "$version"
	need wixl wixl
	need msibuild msitools
	[[ -f $exe ]] || die "$exe: no such file (build it first: make windows)"
	local stage
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' RETURN
	# wixl takes sources relative to the .wxs only.
	cp "$here/lachan-agent.wxs" "$stage/"
	cp "$exe" "$stage/lachan-agent.exe"
	cp "$here/agent.yml" "$stage/agent.yml"
	mkdir -p "$(dirname "$out")"
	local abs_out
	abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
	(cd "$stage" && wixl -a x64 -D Version="$version" -D AgentExe=lachan-agent.exe \
		-D AgentConfig=agent.yml -o "$abs_out" lachan-agent.wxs) || die "wixl failed on deploy/windows/lachan-agent.wxs"
	# wixl (0.101) has no Secure attribute: add the command-line properties to the
	# row it wrote for the Upgrade table's.
	local secure
	secure=$(msiinfo export "$abs_out" Property | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')
	msibuild "$abs_out" -q "UPDATE Property SET Value = '${secure:+$secure;}SERVER;CA_SHA256;SECRET;CODE' WHERE Property = 'SecureCustomProperties'"
	# Nor does it write HideTarget (8192) into the enrollment actions'
	# types: without it the secret would be logged with the command line.
	msibuild "$abs_out" -q "UPDATE CustomAction SET Type = 11282 WHERE Type = 3090"
	sign "$abs_out"
}

case ${1:-} in
exe) [[ $# -eq 3 ]] || die "usage: build.sh exe OUT.exe VERSION"; build_exe "$2" "$3" ;;
msi) [[ $# -eq 4 ]] || die "usage: build.sh msi EXE OUT.msi VERSION"; build_msi "$2" "$3" "$4" ;;
*) die "usage: build.sh exe OUT.exe VERSION | build.sh msi EXE OUT.msi VERSION" ;;
esac
