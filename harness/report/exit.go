package report

import (
	"fmt"
	"strings"
)

// Exit codes of every codexauth command; a conformance run uses all of
// them. This is the only place they are defined: --help texts, the README
// and the workflows in ci/ are written from ExitCodes.
const (
	ExitOK          = 0 // conformant; the command did what was asked
	ExitFailed      = 1 // a MUST failed (any failure with --strict); a fault was missed
	ExitUsage       = 2 // bad flags or configuration
	ExitRuntime     = 3 // could not run: issuer unreachable, I/O error
	ExitIncomplete  = 4 // a MUST of a required profile could not run
	ExitStaleWaiver = 5 // a waiver matched no failed or not-run requirement
)

// ExitCodes describes each code of a conformance run, in order.
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "conformant"},
	{ExitFailed, "a MUST requirement failed (any failure with --strict)"},
	{ExitUsage, "bad flags or configuration"},
	{ExitRuntime, "the issuer could not be reached or started"},
	{ExitIncomplete, "a MUST of a required profile could not run"},
	{ExitStaleWaiver, "a waiver matched nothing"},
}

// ExitCodeHelp renders ExitCodes as one paragraph for --help.
func ExitCodeHelp() string {
	parts := make([]string, len(ExitCodes))
	for i, c := range ExitCodes {
		parts[i] = fmt.Sprintf("%d %s", c.Code, c.Meaning)
	}
	return "Exit codes: " + strings.Join(parts, "; ") + "."
}
