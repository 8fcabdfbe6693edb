package issuer

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// The store keeps what the protocol needs and no more: hashes, the live
// tip of each token family, statuses. The console also shows what happened
// — every rotation of a family, grace replays, the reuse that killed it and
// who revoked it, the device codes and access tokens issued — and records
// it here, in memory, as the store calls go by (recordingStore), without
// changing the store contract. It therefore covers what happened since
// this process started; the console says so.

// eventLogSize bounds each list of the event log.
const eventLogSize = 200

type eventLog struct {
	mu       sync.Mutex
	started  time.Time
	seq      int
	devices  []*deviceRecord
	families map[string]*familyRecord
	famOrder []string
	access   []*accessRecord
	pats     []*patRecord
	// changed is called (outside the lock) after every change.
	changed func(what string)
}

func newEventLog(now time.Time, changed func(string)) *eventLog {
	return &eventLog{started: now, families: map[string]*familyRecord{}, changed: changed}
}

// deviceRecord is one device authorization issued by this process.
type deviceRecord struct {
	ID           string // console id, "dev-3"
	idHash       string // store key; never shown
	userCodeHash string
	Hint         string // the user code's first characters
	ClientID     string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	Status       store.DeviceStatus
	UserID       string
	DecidedBy    string
	Entry        uint64
}

// familyRecord is what happened to one token family.
type familyRecord struct {
	ID        string
	UserID    string
	ClientID  string
	CreatedAt time.Time
	Login     string // how it began: device login, browser login, admin mint
	Chain     []chainLink
	KilledAt  time.Time
	KilledBy  string
	Seen      bool // created while this process ran
}

// chainLink is one event of a family: its first token, a rotation, a
// replay, a refusal.
type chainLink struct {
	At    time.Time
	Kind  string // login, rotated, grace-replay, reused, refused
	From  string // fingerprint of the presented token
	To    string // fingerprint of the token handed out
	Note  string
	Entry uint64
}

// accessRecord is one access token issued by this process.
type accessRecord struct {
	JTI       string
	FamilyID  string
	UserID    string
	ClientID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
	Claims    map[string]any
	Entry     uint64
}

// patRecord is one personal access token minted by this process.
type patRecord struct {
	ID        string
	hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

func (l *eventLog) update(what string, f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
	if l.changed != nil {
		l.changed(what)
	}
}

func (l *eventLog) nextID(prefix string) string {
	l.seq++
	return prefix + "-" + strconv.Itoa(l.seq)
}

func trim[T any](s []T) []T {
	if len(s) > eventLogSize {
		return s[len(s)-eventLogSize:]
	}
	return s
}

// family returns the record of id, creating one for a family that
// predates this process. Call with the lock held.
func (l *eventLog) family(id string) *familyRecord {
	if f, ok := l.families[id]; ok {
		return f
	}
	f := &familyRecord{ID: id}
	l.families[id] = f
	l.famOrder = append(l.famOrder, id)
	if len(l.famOrder) > eventLogSize {
		delete(l.families, l.famOrder[0])
		l.famOrder = l.famOrder[1:]
	}
	return f
}

func (l *eventLog) device(pred func(*deviceRecord) bool) *deviceRecord {
	for i := len(l.devices) - 1; i >= 0; i-- {
		if pred(l.devices[i]) {
			return l.devices[i]
		}
	}
	return nil
}

// deviceByID finds a device record by its console id.
func (l *eventLog) deviceByID(id string) (deviceRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.device(func(d *deviceRecord) bool { return d.ID == id }); d != nil {
		return *d, true
	}
	return deviceRecord{}, false
}

func (l *eventLog) patByID(id string) (patRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.pats {
		if p.ID == id {
			return *p, true
		}
	}
	return patRecord{}, false
}

// userCodeHint remembers the first characters of a user code the issuer
// handed out, so that a person can match the console's row with what
// codex printed.
func (l *eventLog) userCodeHint(code string) {
	h := userCodeHash(code)
	hint := maskPartial(code, 4)
	l.update("device", func() {
		if d := l.device(func(d *deviceRecord) bool { return d.userCodeHash == h }); d != nil {
			d.Hint = hint
		}
	})
}

// accessClaims attaches the decoded claims of an access token the issuer
// answered with.
func (l *eventLog) accessClaims(j decodedJWT) {
	jti, _ := j.Claims["jti"].(string)
	if jti == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.access {
		if a.JTI == jti {
			a.Claims = j.Claims
		}
	}
}

type snapshot struct {
	Started  time.Time
	Devices  []deviceRecord
	Families map[string]familyRecord
	Access   []accessRecord
	PATs     []patRecord
}

func (l *eventLog) snapshot() snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := snapshot{Started: l.started, Families: map[string]familyRecord{}}
	for _, d := range l.devices {
		s.Devices = append(s.Devices, *d)
	}
	for id, f := range l.families {
		c := *f
		c.Chain = append([]chainLink(nil), f.Chain...)
		s.Families[id] = c
	}
	for _, a := range l.access {
		s.Access = append(s.Access, *a)
	}
	for _, p := range l.pats {
		s.PATs = append(s.PATs, *p)
	}
	return s
}

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
			r.log.access = trim(append(r.log.access, &accessRecord{JTI: a.JTI, FamilyID: a.FamilyID, UserID: a.UserID, ClientID: a.ClientID,
				IssuedAt: a.IssuedAt, ExpiresAt: a.ExpiresAt, Entry: entryID(ctx)}))
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
