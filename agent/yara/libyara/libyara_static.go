//go:build cgo && windows

package libyara

import goyara "github.com/Velocidex/go-yara"

// The types of the binding, shared by name with the system build.
type (
	Compiler        = goyara.Compiler
	CompilerMessage = goyara.CompilerMessage
	Rules           = goyara.Rules
	Rule            = goyara.Rule
	Scanner         = goyara.Scanner
	ScanContext     = goyara.ScanContext
	Error           = goyara.Error
)

// ErrScanTimeout is libyara's ERROR_SCAN_TIMEOUT: the scanner's time
// limit ran out.
const ErrScanTimeout Error = 26

// Binding names the binding and the libyara it links, for `version`.
const Binding = "Velocidex/go-yara, libyara 4.5.4 (static; modules pe, elf, math, time)"

// Modules are the modules a rule may import. The bundled libyara also has
// dotnet, left out because its matches were never compared with the Linux
// agent's; it has no OpenSSL, so pe.signatures and pe.is_signed are never
// set, and UnsetFields names them.
var Modules = []string{"pe", "elf", "math", "time"}

// UnsetFields are the fields the bundled libyara declares but, without
// OpenSSL, never sets: a rule testing them would decide otherwise than on
// Linux ("not pe.is_signed" true for every signed file), so it is refused.
var UnsetFields = []string{"pe.signatures", "pe.is_signed", "pe.number_of_signatures"}

// ScanFlagsFastMode stops looking for a string once it has matched,
// where the rule asks only whether it is there (not how often or where).
const ScanFlagsFastMode = goyara.ScanFlagsFastMode

// SetConfiguration and the limits it sets are libyara's process-wide
// settings.
var SetConfiguration = goyara.SetConfiguration

// ConfigMaxMatchData bounds the bytes of each string match libyara copies.
const ConfigMaxMatchData = goyara.ConfigMaxMatchData

// NewCompiler returns a new compiler.
func NewCompiler() (*Compiler, error) { return goyara.NewCompiler() }

// NewScanner returns a scanner for r.
func NewScanner(r *Rules) (*Scanner, error) { return goyara.NewScanner(r) }

// ReadRules reads compiled rules as Rules.Write wrote them.
var ReadRules = goyara.ReadRules
