// Package libyara chooses the YARA binding the agent is built with, so that
// the scanner in agent/yara is written once against one API.
//
// Linux (and any other cgo build but Windows) links the system's libyara
// through github.com/hillu/go-yara/v4, as Debian ships it. Windows links
// github.com/Velocidex/go-yara, a fork with the same API that carries
// libyara's C sources itself: the cross-compiler builds them into
// lachan-agent.exe, so the PC needs no libyara DLL and the build machine
// needs nothing but mingw-w64. Its libyara has only the pe, elf, math, time
// (and dotnet) modules and no OpenSSL; Modules says which of them the agent
// accepts, so that a rule needing anything else is refused by name when it
// is compiled rather than failing or silently never matching on a PC.
//
// The names below are aliases: a value of libyara.Rules is a value of the
// chosen binding's Rules, with all of its methods.
package libyara
