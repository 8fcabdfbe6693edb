package issuer

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/oauth"
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
