package foreignissuer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"
)

// ---- sessions: families of refresh tokens

// family is one login: every refresh token rotated from it and their
// access tokens. Revoking it (logout, reuse) ends them all.
type family struct {
	user     user
	clientID string
	revoked  bool
}

// refreshRecord is a refresh token, known only by its hash.
type refreshRecord struct {
	family    *family
	expires   time.Time
	child     *refreshRecord // its successor, once rotated
	rotatedAt time.Time
	// sealedAnswer is the rotation's answer, AES-GCM sealed under a key
	// derived from this (parent) token, kept for the grace window only:
	// a re-presented parent gets the very same successor back.
	sealedAnswer []byte
}

type accessRecord struct {
	family  *family
	revoked bool
}

var errDuplicateKey = errors.New(`duplicate key value violates unique constraint "access_tokens_token_key"`)

// issue mints and records a token set for fam; the caller holds mu.
func (iss *Issuer) issue(fam *family, now time.Time, derived bool) (map[string]any, *refreshRecord, error) {
	idToken, accessToken, jti, err := iss.mintLogin(fam.user, fam.clientID, now, derived)
	if err != nil {
		return nil, nil, err
	}
	// The store's unique indexes, checked before anything is written.
	if iss.accessIndex[digest(accessToken)] || iss.access[jti] != nil {
		return nil, nil, errDuplicateKey
	}
	refreshToken := "rt_fi_" + randomID(32)
	rec := &refreshRecord{family: fam, expires: now.Add(refreshTTL)}
	iss.refresh[digest(refreshToken)] = rec
	iss.access[jti] = &accessRecord{family: fam}
	iss.accessIndex[digest(accessToken)] = true
	return map[string]any{"id_token": idToken, "access_token": accessToken, "refresh_token": refreshToken,
		"token_type": "Bearer", "expires_in": int(accessTTL.Seconds()), "scope": "openid profile email offline_access"}, rec, nil
}

// seal encrypts plain under a key only the holder of token can derive.
func seal(token string, plain []byte) []byte {
	gcm := gcmFor(token)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, nil)
}

func unseal(token string, sealed []byte) ([]byte, bool) {
	gcm := gcmFor(token)
	if len(sealed) < gcm.NonceSize() {
		return nil, false
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	return plain, err == nil
}

func gcmFor(token string) cipher.AEAD {
	key := sha256.Sum256([]byte("foreign-issuer grace answer\x00" + token))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	gcm, _ := cipher.NewGCM(block)
	return gcm
}
