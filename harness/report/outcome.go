package report

import (
	"time"

	"github.com/codexauth/codexauth/harness/registry"
)

// State of one requirement in a run.
type State string

// States.
const (
	Passed State = "passed"
	Failed State = "failed"
	NotRun State = "not-run"
	Waived State = "waived"
	// Blocked: a step the spec builds on failed, and another requirement
	// covers that step (BlockedBy). Neither passed nor failed.
	Blocked State = "blocked"
)

// Outcome is one spec's result.
type Outcome struct {
	ID       string           `json:"id"`
	Title    string           `json:"title"`
	Level    registry.Level   `json:"level"`
	Profile  registry.Profile `json:"profile"`
	Section  string           `json:"section"`
	State    State            `json:"state"`
	Reason   string           `json:"reason,omitempty"`
	Location string           `json:"location,omitempty"`
	// BlockedBy names the requirement covering the failed step (Blocked).
	BlockedBy string        `json:"blocked_by,omitempty"`
	Duration  time.Duration `json:"-"`
	// Waited is real time the spec spent waiting for expiry.
	Waited time.Duration `json:"-"`
}
