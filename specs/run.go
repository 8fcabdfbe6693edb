package specs

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
)

var (
	progressMu  sync.Mutex
	progressOut io.Writer
	progressN   int
	progressTot int
	lastReport  *types.Report
)

// SetProgress sends one line per finished spec to w (nil: silent).
func SetProgress(w io.Writer, total int) {
	progressMu.Lock()
	defer progressMu.Unlock()
	progressOut, progressN, progressTot = w, 0, total
}

// LastReport is the Ginkgo report of the last run.
func LastReport() *types.Report { return lastReport }

var _ = ReportAfterEach(func(r SpecReport) {
	progressMu.Lock()
	defer progressMu.Unlock()
	if progressOut == nil || r.LeafNodeType != types.NodeTypeIt || (r.State == types.SpecStateSkipped && r.Failure.Message == "") {
		return // not a spec, or filtered out by --profile
	}
	progressN++
	o := Outcome(r)
	mark := map[report.State]string{report.Passed: "ok  ", report.Failed: "FAIL", report.NotRun: "skip", report.Blocked: "blkd"}[o.State]
	line := fmt.Sprintf("[%3d/%d] %s %-16s %s", progressN, progressTot, mark, o.ID, o.Title)
	switch {
	case o.State == report.Blocked:
		line += "\n             blocked by " + o.BlockedBy + ": " + firstLine(o.Reason)
	case o.State != report.Passed && o.Reason != "":
		line += "\n             " + firstLine(o.Reason)
	}
	if target != nil && target.Evidence != nil {
		line = target.Evidence.Masker.Text(line) // CI logs are shared too
	}
	fmt.Fprintln(progressOut, line)
})

var _ = ReportAfterSuite("codexauth conformance report", func(r Report) {
	rep := r
	lastReport = &rep
})

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// Outcome converts one Ginkgo spec report into the harness's terms.
func Outcome(r types.SpecReport) report.Outcome {
	o := report.Outcome{Duration: r.RunTime}
	for _, l := range r.Labels() {
		if id, ok := strings.CutPrefix(l, "req:"); ok {
			o.ID = id
		}
	}
	if req, ok := registry.Lookup(o.ID); ok {
		o.Title, o.Level, o.Profile, o.Section = req.Title, req.Level, req.Profile, req.Section
	}
	switch {
	case r.State == types.SpecStatePassed:
		o.State = report.Passed
	case r.State == types.SpecStateSkipped && strings.HasPrefix(r.Failure.Message, BlockedPrefix):
		o.State = report.Blocked
		rest := strings.TrimPrefix(r.Failure.Message, BlockedPrefix)
		if id, why, ok := strings.Cut(rest, ": "); ok {
			o.BlockedBy, o.Reason = id, why
		} else {
			o.Reason = rest
		}
	case r.State == types.SpecStateSkipped && r.Failure.Message != "":
		o.State = report.NotRun
		o.Reason = strings.TrimPrefix(r.Failure.Message, "not run: ")
	case r.State == types.SpecStateSkipped || r.State == types.SpecStatePending:
		o.State = report.NotRun
		o.Reason = "skipped: " + firstLine(r.Failure.Message)
	default:
		o.State = report.Failed
		o.Reason = r.Failure.Message
		if r.Failure.Location.FileName != "" {
			file := r.Failure.Location.FileName
			if i := strings.LastIndex(file, "/specs/"); i >= 0 {
				file = file[i+1:] // relative to the module, not this machine
			}
			o.Location = fmt.Sprintf("%s:%d", file, r.Failure.Location.LineNumber)
		}
	}
	for _, e := range r.ReportEntries {
		if e.Name == WaitedEntry {
			o.Waited, _ = time.ParseDuration(e.StringRepresentation())
		}
	}
	if o.State == report.NotRun && r.State == types.SpecStateSkipped && r.Failure.Message == "" {
		o.Reason = "filtered out"
	}
	return o
}

// Outcomes converts a whole run, dropping specs that were filtered out.
func Outcomes(r *types.Report) []report.Outcome {
	var out []report.Outcome
	if r == nil {
		return out
	}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		if s.State == types.SpecStateSkipped && s.Failure.Message == "" {
			continue // not selected
		}
		out = append(out, Outcome(s))
	}
	return out
}

// LabelFilter selects profiles.
func LabelFilter(profiles []registry.Profile) string {
	if len(profiles) == 0 {
		return ""
	}
	parts := make([]string, len(profiles))
	for i, p := range profiles {
		parts[i] = "profile:" + string(p)
	}
	return strings.Join(parts, " || ")
}
