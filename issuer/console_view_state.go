package issuer

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/clock"
	"github.com/codexauth/codexauth/issuer/faults"
	"github.com/codexauth/codexauth/issuer/store"
)

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
		row.Status, row.Live = tokenStatus(err, "unknown to the store", rec.RevokedAt, a.ExpiresAt, now)
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
		row.Status, row.Live = tokenStatus(err, "gone from the store", rec.RevokedAt, rec.ExpiresAt, now)
		v.PATs = append(v.PATs, row)
	}

	s.timelineView(&v, r)
	if len(storeErrs) > 0 {
		v.StoreError = "The store did not answer (" + strings.Join(storeErrs, ", ") + "): what it holds is missing below."
	}
	return v
}

// tokenStatus is what the console says of a token the store was asked
// about: missing when the lookup failed (err), else revoked,
// expired or live (and only then live is true).
func tokenStatus(err error, missing string, revokedAt, expiresAt, now time.Time) (status string, live bool) {
	switch {
	case err != nil:
		return missing, false
	case !revokedAt.IsZero():
		return "revoked " + fmtTime(revokedAt), false
	case !now.Before(expiresAt):
		return "expired", false
	}
	return "live", true
}

// fixtureOf is a user as the console edits it: the fixture format, without
// the password hash.
func fixtureOf(u store.User) UserFixture {
	return UserFixture{ID: u.ID, Email: u.Email, Name: u.Name, AccountID: u.AccountID, ChatGPTUserID: u.ChatGPTUserID, PlanType: u.PlanType,
		FedRAMP: u.FedRAMP, Organizations: u.Organizations, OrganizationID: u.OrganizationID, ProjectID: u.ProjectID, IsOrgOwner: u.IsOrgOwner,
		CompletedPlatformOnboarding: u.Onboarded, ExtraAuthClaims: u.ExtraAuthClaims, ExtraClaims: u.ExtraClaims, Disabled: u.Disabled,
		FederationRules: u.FederationRules}
}
