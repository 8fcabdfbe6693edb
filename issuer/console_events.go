package issuer

import (
	"strconv"
	"sync"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// The store keeps what the protocol needs and no more: hashes, the live
// tip of each token family, statuses. The console also shows what happened
// — every rotation of a family, grace replays, the reuse that killed it and
// who revoked it, the device codes and access tokens issued — and records
// it here, in memory, as the store calls go by (recordingStore, in
// console_recording.go), without changing the store contract. It therefore
// covers what happened since this process started; the console says so.

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

// accessRecord is one access token issued by this process: the store's
// record, and what the store does not keep.
type accessRecord struct {
	store.AccessTokenRecord
	Claims map[string]any
	Entry  uint64
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
