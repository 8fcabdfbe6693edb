package issuer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/codexauth/codexauth/issuer/store"
)

// authnContext is what an authorization request established about the
// user's authentication that every id_token of the grant repeats: when the
// user authenticated (auth_time, OIDC Core §2) and the client's nonce
// (§3.1.2.1, §3.1.3.7). A refreshed id_token keeps both (§12.2).
type authnContext struct {
	AuthTime int64  `json:"t"`
	Nonce    string `json:"n,omitempty"`
}

// The context travels inside the credentials of the grant, from the
// authorization code to each refresh token: "<credential>.<sealed context>".
// The store keys every credential by the hash of the whole string, so a
// context cannot be swapped without the credential becoming unknown; it is
// sealed (AES-256-GCM under a key derived from the server secret) so that a
// code in a browser's history shows neither the login time nor the nonce.
// A refresh token's successor carries its parent's sealed context verbatim
// (childOf), so a grace-window replay still yields the very same child.
// A credential without a context (minted by the admin API, or from before
// this existed) falls back to the creation time of its code or family.
const authnSeparator = "."

// maxNonce bounds the nonce an authorization request may carry: it travels
// in the code (a URL) and in every refresh token of the grant.
const maxNonce = 255

func (s *Server) authnAEAD() cipher.AEAD {
	m := hmac.New(sha256.New, s.derive)
	m.Write([]byte("authn-context-v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(fmt.Sprintf("aes: %v", err)) // a 32-byte key never fails
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("gcm: %v", err))
	}
	return aead
}

// withAuthn appends the sealed context to a fresh credential.
func (s *Server) withAuthn(credential string, a authnContext) string {
	plain, _ := json.Marshal(a)
	aead := s.authnAEAD()
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	sealed := aead.Seal(nonce, nonce, plain, nil)
	return credential + authnSeparator + base64.RawURLEncoding.EncodeToString(sealed)
}

// authnSuffix is the sealed context of a credential, separator included
// ("" when it has none).
func authnSuffix(credential string) string {
	if i := strings.LastIndex(credential, authnSeparator); i > 0 {
		return credential[i:]
	}
	return ""
}

// authnOf opens the context of a credential the store has already
// recognised; ok is false when it carries none.
func (s *Server) authnOf(credential string) (a authnContext, ok bool) {
	i := strings.LastIndex(credential, authnSeparator)
	if i <= 0 {
		return a, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(credential[i+1:])
	aead := s.authnAEAD()
	if err != nil || len(sealed) < aead.NonceSize() {
		return a, false
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil || json.Unmarshal(plain, &a) != nil {
		return authnContext{}, false
	}
	return a, true
}

// authnOr is the context of credential, or one whose auth_time is fallback.
func (s *Server) authnOr(credential string, fallback time.Time) authnContext {
	if a, ok := s.authnOf(credential); ok {
		return a
	}
	return authnContext{AuthTime: fallback.Unix()}
}

// signedIn reports the user of the browser's session and when that user
// signed in: the auth_time of what the session authorizes (OIDC Core §2).
func (s *Server) signedIn(r *http.Request) (userID string, authTime time.Time, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", time.Time{}, false
	}
	sess, err := s.store.GetSession(r.Context(), store.Hash(c.Value), s.clock.Now())
	if err != nil {
		return "", time.Time{}, false
	}
	u, err := s.store.GetUser(r.Context(), sess.UserID)
	if err != nil || u.Disabled {
		return "", time.Time{}, false
	}
	return u.ID, sess.CreatedAt, true
}
