package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// consoleView is what the console template sees: strings ready to print
// (the template set is shared with the other pages and has no functions).
type consoleView struct {
	Base, CSRF, Nonce       string
	Open                    bool
	Issuer, Version         string
	Note, Error, StoreError string
	Now, Started, Offset    string
	NowUnix                 int64
	Adjustable              bool

	AccessTTL, ConfiguredAccessTTL, ReuseGrace, RefreshTTL string
	AccessTTLSeconds, ReuseGraceSeconds                    string
	AutoApproveUser                                        string
	AutoApproveOn, Outage                                  bool
	DeviceInterval                                         int

	FaultsOn []string
	Faults   []faultRow
	Users    []userRow
	UserIDs  []string
	Keys     []keyRow
	Devices  []deviceRow
	Families []familyRow
	Access   []accessRow
	Agents   []agentRow
	PATs     []patRow

	Timeline                               []entryRow
	TimelineShown, TimelineTotal           int
	FilterUser, FilterFamily, FilterResult string
	FilterUsers, FilterFamilies, Outcomes  []option
}

type option struct {
	Value, Label string
	Selected     bool
}

type faultRow struct {
	Name, Breaks, Contract, Codex string
	On                            bool
}

type userRow struct {
	ID, Email, Name, Plan, Account string
	Disabled, HasPassword          bool
	Fixture, Claims                string
}

type keyRow struct{ KID, Created, Status string }

type deviceRow struct {
	ID, Hint, Client, Created, Expires, Status, User, DecidedBy string
	ExpUnix                                                     int64
	Pending                                                     bool
	Entry                                                       uint64
}

type familyRow struct {
	ID, User, Client, Created, Status, Login, KilledBy string
	Live, Seen                                         bool
	Chain                                              []linkRow
}

type linkRow struct {
	At, Kind, From, To, Note string
	Entry                    uint64
}

type accessRow struct {
	JTI, User, Family, Issued, Expires, Status, Claims string
	ExpUnix                                            int64
	Live                                               bool
}

type agentRow struct {
	RuntimeID, User, Account, Created, Expires string
	Revoked                                    bool
	Tasks                                      []string
}

type patRow struct {
	ID, User, Created, Expires, Status string
	Live                               bool
}

type entryRow struct {
	ID                                              uint64
	At, Method, Path, Flow, Outcome, Latency        string
	Client, Agent, User, Family, Class, StatusClass string
	Status                                          int
	Request, Response                               capturedIO
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("Jan 02 15:04:05")
}

func fmtDur(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.Round(time.Second).String(), "0s"), "0m")
}

func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// consolePage renders the console.
func (s *Server) consolePage(w http.ResponseWriter, r *http.Request) {
	if rel := strings.TrimPrefix(r.URL.Path, s.basePath()); rel != "/" && rel != "" {
		oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no endpoint at %s", r.URL.Path))
		return
	}
	v := s.consoleView(r.Context(), r)
	v.CSRF = s.csrfToken(w, r)
	q := r.URL.Query()
	v.Note, v.Error = clip(q.Get("note"), 300), clip(q.Get("error"), 300)
	s.renderConsole(w, http.StatusOK, "console", v)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// renderConsole writes a console page with its own content security
// policy: its one script carries a per-response nonce; it may connect only
// to its own origin (fetch, the event stream); no framing.
func (s *Server) renderConsole(w http.ResponseWriter, status int, name string, v consoleView) {
	v.Base, v.Nonce = s.basePath(), random(18)
	v.Open = s.console.mode == consoleOpen
	v.Issuer, v.Version = s.cfg.PublicURL, s.cfg.Version
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+"'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	// The console's URLs carry no secret; sending its origin lets the
	// CSRF check see where a form comes from.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, v); err != nil {
		s.log.Error("render console", "page", name, "err", err)
	}
}

func (s *Server) renderConsoleLogin(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	s.renderConsole(w, status, "console-login", consoleView{CSRF: s.csrfToken(w, r), Error: errMsg})
}

// consoleView gathers what the console shows: the store's state, the
// event log's history (since this process started) and the timeline.
func (s *Server) consoleView(ctx context.Context, r *http.Request) consoleView {
	now := s.clock.Now()
	snap := s.console.events.snapshot()
	v := consoleView{Now: now.UTC().Format("2006-01-02 15:04:05 MST"), NowUnix: now.Unix(), Started: fmtTime(snap.Started),
		AccessTTL: fmtDur(s.accessTTL()), ConfiguredAccessTTL: fmtDur(s.cfg.AccessTTL), ReuseGrace: fmtDur(s.reuseGrace()),
		RefreshTTL: fmtDur(s.cfg.RefreshTTL), AccessTTLSeconds: strconv.FormatFloat(s.accessTTL().Seconds(), 'f', -1, 64),
		ReuseGraceSeconds: strconv.FormatFloat(s.reuseGrace().Seconds(), 'f', -1, 64), AutoApproveUser: s.cfg.AutoApproveUser,
		AutoApproveOn: s.autoApproveUser() != "", Outage: s.outage.down.Load(), DeviceInterval: s.cfg.DeviceInterval, FaultsOn: s.faults.Enabled()}
	if off := s.clockOffset(); off != 0 {
		v.Offset = "+" + fmtDur(off)
	}
	_, v.Adjustable = s.clock.(*clock.Adjustable)
	var storeErrs []string
	fail := func(what string, err error) {
		s.log.Warn("console: store read failed", "what", what, "err", err)
		storeErrs = append(storeErrs, what)
	}

	for _, f := range faults.All() {
		v.Faults = append(v.Faults, faultRow{Name: f.Name, Breaks: f.Breaks, Contract: f.Contract, Codex: f.Codex, On: s.faults.Has(f.Name)})
	}
	sort.SliceStable(v.Faults, func(i, j int) bool { return v.Faults[i].On && !v.Faults[j].On })

	users, err := s.store.ListUsers(ctx)
	if err != nil {
		fail("users", err)
	}
	for _, u := range users {
		v.UserIDs = append(v.UserIDs, u.ID)
		v.Users = append(v.Users, userRow{ID: u.ID, Email: u.Email, Name: u.Name, Plan: u.PlanType, Account: u.AccountID, Disabled: u.Disabled,
			HasPassword: u.PasswordHash != "", Fixture: prettyJSON(fixtureOf(u)), Claims: prettyJSON(map[string]any{ClaimAuth: authClaim(u),
				ClaimProfile: map[string]any{"email": u.Email, "email_verified": true}})})
	}

	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		fail("signing keys", err)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.After(keys[j].CreatedAt) })
	for _, k := range keys {
		row := keyRow{KID: k.KID, Created: fmtTime(k.CreatedAt), Status: "signing"}
		if !k.Active() {
			row.Status = "retired " + fmtTime(k.RetiredAt) + "; in the JWKS until " + fmtTime(k.DropAfter)
			if !now.Before(k.DropAfter) {
				row.Status = "retired; dropped from the JWKS"
			}
		}
		v.Keys = append(v.Keys, row)
	}

	for i := len(snap.Devices) - 1; i >= 0; i-- {
		d := snap.Devices[i]
		row := deviceRow{ID: d.ID, Hint: d.Hint, Client: d.ClientID, Created: fmtTime(d.CreatedAt), Expires: fmtTime(d.ExpiresAt),
			ExpUnix: d.ExpiresAt.Unix(), Status: string(d.Status), User: d.UserID, DecidedBy: d.DecidedBy, Entry: d.Entry}
		if row.Hint == "" {
			row.Hint = "‹masked›"
		}
		if d.Status == store.DevicePending && !now.Before(d.ExpiresAt) {
			row.Status = "expired"
		}
		row.Pending = row.Status == string(store.DevicePending)
		v.Devices = append(v.Devices, row)
	}

	fams, err := s.store.ListFamilies(ctx, "")
	if err != nil {
		fail("token families", err)
	}
	byID := map[string]store.Family{}
	for _, f := range fams {
		byID[f.ID] = f
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	for id := range snap.Families {
		if _, ok := byID[id]; !ok {
			ids = append(ids, id)
		}
	}
	created := func(id string) time.Time {
		if f, ok := byID[id]; ok {
			return f.CreatedAt
		}
		return snap.Families[id].CreatedAt
	}
	sort.Slice(ids, func(i, j int) bool { return created(ids[i]).After(created(ids[j])) })
	if len(ids) > 100 {
		ids = ids[:100]
	}
	for _, id := range ids {
		f, inStore := byID[id]
		rec, seen := snap.Families[id]
		row := familyRow{ID: id, User: f.UserID, Client: f.ClientID, Created: fmtTime(f.CreatedAt), Live: inStore && !f.Revoked(), Seen: rec.Seen, Login: rec.Login}
		if !inStore {
			row.User, row.Client, row.Created = rec.UserID, rec.ClientID, fmtTime(rec.CreatedAt)
		}
		switch {
		case !inStore:
			row.Status = "gone from the store"
		case f.Revoked():
			row.Status = "revoked " + fmtTime(f.RevokedAt) + " (" + f.RevokeReason + ")"
		default:
			row.Status = "live"
		}
		if seen {
			row.KilledBy = rec.KilledBy
			for _, l := range rec.Chain {
				row.Chain = append(row.Chain, linkRow{At: fmtTime(l.At), Kind: l.Kind, From: l.From, To: l.To, Note: l.Note, Entry: l.Entry})
			}
		}
		v.Families = append(v.Families, row)
	}

	for i, n := len(snap.Access)-1, 0; i >= 0 && n < 50; i, n = i-1, n+1 {
		a := snap.Access[i]
		row := accessRow{JTI: a.JTI, User: a.UserID, Family: a.FamilyID, Issued: fmtTime(a.IssuedAt), Expires: fmtTime(a.ExpiresAt), ExpUnix: a.ExpiresAt.Unix()}
		if len(row.JTI) > 10 {
			row.JTI = row.JTI[:10] + "…"
		}
		if a.Claims != nil {
			row.Claims = prettyJSON(a.Claims)
		}
		rec, err := s.store.GetAccessToken(ctx, a.JTI)
		switch {
		case err != nil:
			row.Status = "unknown to the store"
		case !rec.RevokedAt.IsZero():
			row.Status = "revoked " + fmtTime(rec.RevokedAt)
		case !now.Before(a.ExpiresAt):
			row.Status = "expired"
		default:
			row.Status, row.Live = "live", true
		}
		v.Access = append(v.Access, row)
	}

	agents, err := s.store.ListAgentIdentities(ctx)
	if err != nil {
		fail("agent identities", err)
	}
	for _, a := range agents {
		row := agentRow{RuntimeID: a.RuntimeID, User: a.UserID, Account: a.AccountID, Created: fmtTime(a.CreatedAt), Expires: fmtTime(a.ExpiresAt), Revoked: !a.RevokedAt.IsZero()}
		tasks, err := s.store.ListAgentTasks(ctx, a.RuntimeID)
		if err != nil {
			fail("agent tasks", err)
		}
		for _, t := range tasks {
			row.Tasks = append(row.Tasks, t.TaskID+" ("+fmtTime(t.CreatedAt)+")")
		}
		v.Agents = append(v.Agents, row)
	}

	for i := len(snap.PATs) - 1; i >= 0; i-- {
		p := snap.PATs[i]
		row := patRow{ID: p.ID, User: p.UserID, Created: fmtTime(p.CreatedAt), Expires: fmtTime(p.ExpiresAt)}
		rec, err := s.store.GetPAT(ctx, p.hash)
		switch {
		case err != nil:
			row.Status = "gone from the store"
		case !rec.RevokedAt.IsZero():
			row.Status = "revoked " + fmtTime(rec.RevokedAt)
		case !now.Before(rec.ExpiresAt):
			row.Status = "expired"
		default:
			row.Status, row.Live = "live", true
		}
		v.PATs = append(v.PATs, row)
	}

	s.timelineView(&v, r)
	if len(storeErrs) > 0 {
		v.StoreError = "The store did not answer (" + strings.Join(storeErrs, ", ") + "): what it holds is missing below."
	}
	return v
}

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

// fixtureOf is a user as the console edits it: the fixture format, without
// the password hash.
func fixtureOf(u store.User) UserFixture {
	return UserFixture{ID: u.ID, Email: u.Email, Name: u.Name, AccountID: u.AccountID, ChatGPTUserID: u.ChatGPTUserID, PlanType: u.PlanType,
		FedRAMP: u.FedRAMP, Organizations: u.Organizations, OrganizationID: u.OrganizationID, ProjectID: u.ProjectID, IsOrgOwner: u.IsOrgOwner,
		CompletedPlatformOnboarding: u.Onboarded, ExtraAuthClaims: u.ExtraAuthClaims, ExtraClaims: u.ExtraClaims, Disabled: u.Disabled,
		FederationRules: u.FederationRules}
}
