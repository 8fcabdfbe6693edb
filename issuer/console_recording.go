package issuer

import (
	"context"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// recordingStore passes every call to the store and records, for the
// console, what the calls that change tokens did.
type recordingStore struct {
	store.Store
	log *eventLog
}

func entryOf(ctx context.Context) *timelineEntry {
	e, _ := ctx.Value(timelineKey{}).(*timelineEntry)
	return e
}

func entryID(ctx context.Context) uint64 {
	if e := entryOf(ctx); e != nil {
		return e.ID
	}
	return 0
}

// annotate sets the user and family of the request being recorded.
func annotate(ctx context.Context, user, family string) {
	if e := entryOf(ctx); e != nil {
		if user != "" {
			e.User = user
		}
		if family != "" {
			e.Family = family
		}
	}
}

// actor says who did something, from the request it happened in.
func actor(ctx context.Context) string {
	e := entryOf(ctx)
	switch {
	case consoleActing(ctx):
		return "the console"
	case e == nil:
		return "the issuer"
	case strings.HasPrefix(e.Flow, "admin"):
		return "the admin API"
	case e.Flow == "device: poll":
		return "auto-approval (mock mode)"
	case e.Flow == "device: verification page":
		return "the user on the verification page"
	case e.Flow == "revoke":
		return "the client (POST /oauth/revoke, e.g. codex logout)"
	}
	return e.Flow
}

func (r *recordingStore) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	err := r.Store.CreateDeviceCode(ctx, d)
	if err == nil {
		r.log.update("device", func() {
			r.log.devices = trim(append(r.log.devices, &deviceRecord{ID: r.log.nextID("dev"), idHash: d.IDHash, userCodeHash: d.UserCodeHash,
				ClientID: d.ClientID, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, Status: d.Status, Entry: entryID(ctx)}))
		})
	}
	return err
}

func (r *recordingStore) DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) (store.DeviceCode, error) {
	d, err := r.Store.DecideDeviceCode(ctx, userCodeHash, approve, userID, now)
	if err == nil {
		annotate(ctx, d.UserID, "")
		by := actor(ctx)
		r.log.update("device", func() {
			if rec := r.log.device(func(x *deviceRecord) bool { return x.userCodeHash == userCodeHash }); rec != nil {
				rec.Status, rec.UserID, rec.DecidedBy = d.Status, d.UserID, by
			}
		})
	}
	return d, err
}

func (r *recordingStore) ClaimDeviceCode(ctx context.Context, idHash string, now time.Time) (store.DeviceCode, error) {
	d, err := r.Store.ClaimDeviceCode(ctx, idHash, now)
	if err == nil {
		annotate(ctx, d.UserID, "")
		r.log.update("device", func() {
			if rec := r.log.device(func(x *deviceRecord) bool { return x.idHash == idHash }); rec != nil {
				rec.Status, rec.UserID = d.Status, d.UserID
			}
		})
	}
	return d, err
}

func (r *recordingStore) ConsumeAuthCode(ctx context.Context, hash string, now time.Time, familyID string) (store.AuthCode, error) {
	c, err := r.Store.ConsumeAuthCode(ctx, hash, now, familyID)
	if c.UserID != "" {
		annotate(ctx, c.UserID, c.FamilyID)
		if e := entryOf(ctx); e != nil && err == nil {
			e.login = "browser login"
			if strings.HasSuffix(c.RedirectURI, deviceCallbackPath) {
				e.login = "device login"
			}
		}
	}
	return c, err
}

func (r *recordingStore) CreateFamily(ctx context.Context, f store.Family, first store.RefreshToken) error {
	err := r.Store.CreateFamily(ctx, f, first)
	if err == nil {
		annotate(ctx, f.UserID, f.ID)
		how := "minted"
		if e := entryOf(ctx); e != nil {
			how = e.Flow
			if e.login != "" {
				how = e.login
			}
		}
		if consoleActing(ctx) {
			how = "the console"
		}
		r.log.update("family", func() {
			rec := r.log.family(f.ID)
			rec.UserID, rec.ClientID, rec.CreatedAt, rec.Login, rec.Seen = f.UserID, f.ClientID, f.CreatedAt, how, true
			rec.Chain = append(rec.Chain, chainLink{At: f.CreatedAt, Kind: "login", To: hashFingerprint(first.Hash), Note: how, Entry: entryID(ctx)})
		})
	}
	return err
}

func (r *recordingStore) RotateRefreshToken(ctx context.Context, p store.RotateParams) (store.RotateResult, error) {
	res, err := r.Store.RotateRefreshToken(ctx, p)
	if err != nil || res.Family.ID == "" {
		return res, err
	}
	annotate(ctx, res.Family.UserID, res.Family.ID)
	if e := entryOf(ctx); e != nil {
		e.rotation = res.Outcome.String()
	}
	link := chainLink{At: p.Now, Kind: res.Outcome.String(), From: hashFingerprint(p.PresentedHash), Entry: entryID(ctx)}
	switch res.Outcome {
	case store.Rotated, store.GraceReplay:
		child := res.Child.Hash
		if child == "" {
			child = p.ChildHash
		}
		link.To = hashFingerprint(child)
		if res.Outcome == store.GraceReplay {
			link.Note = "a rotated-out token within the grace window: the same successor again"
		}
	case store.Reused:
		link.Note = "a rotated-out token presented again: reuse detection"
	case store.FamilyRevoked:
		link.Kind, link.Note = "refused", "the family is revoked"
	case store.Expired:
		link.Kind, link.Note = "refused", "the token expired"
	case store.WrongClient:
		link.Kind, link.Note = "refused", "presented by another client"
	}
	r.log.update("family", func() {
		rec := r.log.family(res.Family.ID)
		if rec.UserID == "" {
			rec.UserID, rec.ClientID, rec.CreatedAt = res.Family.UserID, res.Family.ClientID, res.Family.CreatedAt
		}
		rec.Chain = trim(append(rec.Chain, link))
		if res.Outcome == store.Reused && rec.KilledAt.IsZero() && res.Family.Revoked() {
			rec.KilledAt, rec.KilledBy = p.Now, "reuse detection: token #"+link.From+" was presented after it had been rotated"
		}
	})
	return res, err
}

func (r *recordingStore) RevokeFamily(ctx context.Context, familyID, reason string, now time.Time) error {
	before, _ := r.Store.GetFamily(ctx, familyID)
	err := r.Store.RevokeFamily(ctx, familyID, reason, now)
	if err == nil && !before.Revoked() {
		annotate(ctx, before.UserID, familyID)
		by := revoker(ctx, reason)
		r.log.update("family", func() {
			rec := r.log.family(familyID)
			if rec.UserID == "" {
				rec.UserID, rec.ClientID, rec.CreatedAt = before.UserID, before.ClientID, before.CreatedAt
			}
			if rec.KilledAt.IsZero() {
				rec.KilledAt, rec.KilledBy = now, by
			}
			rec.Chain = trim(append(rec.Chain, chainLink{At: now, Kind: "revoked", Note: by, Entry: entryID(ctx)}))
		})
	}
	return err
}

func (r *recordingStore) RecordAccessToken(ctx context.Context, a store.AccessTokenRecord) error {
	err := r.Store.RecordAccessToken(ctx, a)
	if err == nil {
		r.log.update("access", func() {
			r.log.access = trim(append(r.log.access, &accessRecord{AccessTokenRecord: a, Entry: entryID(ctx)}))
		})
	}
	return err
}

func (r *recordingStore) RevokeAccessToken(ctx context.Context, jti string, now time.Time) error {
	err := r.Store.RevokeAccessToken(ctx, jti, now)
	if err == nil {
		r.log.update("access", func() {
			for _, a := range r.log.access {
				if a.JTI == jti && a.RevokedAt.IsZero() {
					a.RevokedAt = now
				}
			}
		})
	}
	return err
}

func (r *recordingStore) CreatePAT(ctx context.Context, p store.PersonalAccessToken) error {
	err := r.Store.CreatePAT(ctx, p)
	if err == nil {
		annotate(ctx, p.UserID, "")
		r.log.update("pat", func() {
			r.log.pats = trim(append(r.log.pats, &patRecord{ID: r.log.nextID("pat"), hash: p.Hash, UserID: p.UserID, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt}))
		})
	}
	return err
}

func (r *recordingStore) RevokePAT(ctx context.Context, hash string, now time.Time) error {
	err := r.Store.RevokePAT(ctx, hash, now)
	if err == nil {
		r.log.update("pat", func() {
			for _, p := range r.log.pats {
				if p.hash == hash && p.RevokedAt.IsZero() {
					p.RevokedAt = now
				}
			}
		})
	}
	return err
}

func (r *recordingStore) GetPAT(ctx context.Context, hash string) (store.PersonalAccessToken, error) {
	p, err := r.Store.GetPAT(ctx, hash)
	if err == nil {
		annotate(ctx, p.UserID, "")
	}
	return p, err
}

func (r *recordingStore) CreateSession(ctx context.Context, s store.Session) error {
	err := r.Store.CreateSession(ctx, s)
	if err == nil {
		annotate(ctx, s.UserID, "")
	}
	return err
}

func (r *recordingStore) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Family, error) {
	t, f, err := r.Store.GetRefreshToken(ctx, hash)
	if err == nil {
		annotate(ctx, f.UserID, f.ID)
	}
	return t, f, err
}

// revoker says who revoked a family and why, from the store's reason and
// the request it happened in.
func revoker(ctx context.Context, reason string) string {
	switch reason {
	case "console":
		return "the console"
	case "admin":
		return "the admin API"
	case "revoked":
		return "the client: POST /oauth/revoke (codex logout, or a new login replacing this one)"
	case "authorization_code_replayed":
		return "authorization-code replay: the code that began this login was redeemed again"
	case "user_removed":
		return "the issuer: its user was removed or disabled"
	}
	return actor(ctx) + " (" + reason + ")"
}

// consoleActing marks a context in which the console itself acts.
type consoleActorKey struct{}

func consoleActing(ctx context.Context) bool { v, _ := ctx.Value(consoleActorKey{}).(bool); return v }
