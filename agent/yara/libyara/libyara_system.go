//go:build cgo && !windows

package libyara

import goyara "github.com/hillu/go-yara/v4"

// The types of the binding, shared by name with the Windows build.
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
const Binding = "hillu/go-yara v4.2.4, system libyara (dynamic)"

// Modules is nil: the system's libyara decides which modules a rule may
// import, and reports the others itself.
var Modules []string

// UnsetFields is empty: Debian's libyara is built with OpenSSL.
var UnsetFields []string

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
