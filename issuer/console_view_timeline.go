package issuer

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// timelineView fills the timeline, filtered by user, family and outcome.
func (s *Server) timelineView(v *consoleView, r *http.Request) {
	q := r.URL.Query()
	v.FilterUser, v.FilterFamily, v.FilterResult = q.Get("user"), q.Get("family"), q.Get("outcome")
	entries := s.console.timeline.entries()
	v.TimelineTotal = len(entries)
	users, families, outcomes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		if e.User != "" {
			users[e.User] = true
		}
		if e.Family != "" {
			families[e.Family] = true
		}
		outcomes[e.Outcome] = true
	}
	opts := func(set map[string]bool, selected, all string) []option {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := []option{{Value: "", Label: all, Selected: selected == ""}}
		if selected != "" && !set[selected] && selected != "errors" && selected != "ok-all" {
			keys = append(keys, selected)
		}
		for _, k := range keys {
			out = append(out, option{Value: k, Label: k, Selected: k == selected})
		}
		return out
	}
	v.FilterUsers = opts(users, v.FilterUser, "every user")
	v.FilterFamilies = opts(families, v.FilterFamily, "every family")
	v.Outcomes = append([]option{{Value: "", Label: "every outcome", Selected: v.FilterResult == ""},
		{Value: "errors", Label: "errors (4xx, 5xx)", Selected: v.FilterResult == "errors"},
		{Value: "ok-all", Label: "successes (< 400)", Selected: v.FilterResult == "ok-all"}}, opts(outcomes, v.FilterResult, "")[1:]...)
	for _, e := range entries {
		if v.FilterUser != "" && e.User != v.FilterUser || v.FilterFamily != "" && e.Family != v.FilterFamily {
			continue
		}
		switch v.FilterResult {
		case "":
		case "errors":
			if e.Status < 400 {
				continue
			}
		case "ok-all":
			if e.Status >= 400 {
				continue
			}
		default:
			if e.Outcome != v.FilterResult {
				continue
			}
		}
		if len(v.Timeline) >= 200 {
			break
		}
		row := entryRow{ID: e.ID, At: e.At.UTC().Format("15:04:05.000"), Method: e.Method, Path: e.Path, Flow: e.Flow, Outcome: e.Outcome,
			Latency: strconv.FormatFloat(e.LatencyMS, 'f', 1, 64) + " ms", Client: e.ClientID, Agent: shortAgent(e.UserAgent), User: e.User,
			Family: e.Family, Status: e.Status, Request: e.Request, Response: e.Response}
		switch {
		case e.Status >= 500:
			row.StatusClass = "s5"
		case e.Status >= 400:
			row.StatusClass = "s4"
		case e.Status >= 300:
			row.StatusClass = "s3"
		default:
			row.StatusClass = "s2"
		}
		if slices.Contains([]string{"reused", "refresh_token_reused", "refresh_token_invalidated", "refresh_token_expired"}, e.Outcome) {
			row.Class = "alarm"
		}
		v.Timeline = append(v.Timeline, row)
	}
	v.TimelineShown = len(v.Timeline)
}

// shortAgent keeps a User-Agent's first product ("codex_cli_rs/0.169.0").
func shortAgent(ua string) string {
	if f := strings.Fields(ua); len(f) > 0 {
		return f[0]
	}
	return ""
}
