package store

import "time"

// RetainUsed is how long spent codes and expired refresh tokens are kept
// after expiry before garbage collection, so that a late replay is still
// recognised as a replay (and can revoke what it must) rather than as unknown.
const RetainUsed = 24 * time.Hour

// Decision is the pure part of a rotation attempt: what should happen to a
// presented token given its family. Backends call DecideRotation inside
// their atomic section and then apply the decision, so every backend makes
// the same choice.
type Decision struct {
	Outcome RotateOutcome
	Child   RefreshToken // for GraceReplay
}

// DecideRotation applies the issuer's refresh rules (DESIGN.md, Tokens):
//   - a token presented by a client other than its family's changes nothing;
//   - a rotated-out token within the grace window whose child is still the
//     live tip gets that same child back (never a second branch);
//   - any other rotated-out token is reuse, which revokes the family;
//   - a token of a revoked family is refused as revoked;
//   - an expired token is refused as expired;
//   - otherwise the token rotates.
func DecideRotation(t RefreshToken, f Family, p RotateParams, lookup func(hash string) (RefreshToken, bool)) Decision {
	// Another client presenting the token learns nothing and burns nothing.
	if p.ClientID != "" && p.ClientID != f.ClientID {
		return Decision{Outcome: WrongClient}
	}
	if !t.RotatedAt.IsZero() {
		if !f.Revoked() && p.Grace > 0 && p.Now.Before(t.RotatedAt.Add(p.Grace)) && t.ChildHash == p.ChildHash {
			if c, ok := lookup(t.ChildHash); ok && c.RotatedAt.IsZero() {
				return Decision{Outcome: GraceReplay, Child: c}
			}
		}
		return Decision{Outcome: Reused}
	}
	if f.Revoked() {
		return Decision{Outcome: FamilyRevoked}
	}
	if !p.Now.Before(t.ExpiresAt) {
		return Decision{Outcome: Expired}
	}
	return Decision{Outcome: Rotated}
}
