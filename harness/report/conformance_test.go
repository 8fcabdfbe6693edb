package report

import (
	"testing"

	"github.com/codexauth/codexauth/harness/registry"
)

func TestEvaluate(t *testing.T) {
	out := []Outcome{
		{ID: "A", Level: registry.MUST, Profile: "core", State: Passed},
		{ID: "B", Level: registry.SHOULD, Profile: "core", State: Failed},
		{ID: "C", Level: registry.MUST, Profile: "reuse", State: NotRun},
	}
	if r := Evaluate(out, []registry.Profile{"core"}, nil, false); r.ExitCode != ExitOK {
		t.Fatalf("registry.SHOULD failure and not-run in an optional profile: %+v", r)
	}
	if r := Evaluate(out, []registry.Profile{"core"}, nil, true); r.ExitCode != ExitFailed {
		t.Fatal("strict must fail on a registry.SHOULD failure")
	}
	if r := Evaluate(out, []registry.Profile{"core", "reuse"}, nil, false); r.ExitCode != ExitIncomplete || r.Incomplete[0] != "C" {
		t.Fatalf("registry.MUST not run in a required profile: %+v", r)
	}
	out[0].State = Failed
	if r := Evaluate(out, []registry.Profile{"core"}, []Waiver{{ID: "A", Reason: "r"}}, false); r.ExitCode != ExitOK || r.Profiles["core"].Waived != 1 {
		t.Fatalf("waived registry.MUST failure: %+v", r)
	}
	if r := Evaluate(out, []registry.Profile{"core"}, []Waiver{{ID: "A", Reason: "r"}, {ID: "Z", Reason: "r"}}, false); r.ExitCode != ExitStaleWaiver {
		t.Fatalf("stale waiver: %+v", r)
	}
	if r := Evaluate(out, []registry.Profile{"core"}, nil, false); r.ExitCode != ExitFailed || r.Failures[0] != "A" {
		t.Fatalf("registry.MUST failure: %+v", r)
	}
}
