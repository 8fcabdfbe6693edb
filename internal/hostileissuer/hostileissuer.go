// Package hostileissuer is a test fixture: an "issuer" that attacks the
// client testing it, one behaviour at a time — answers without end, headers
// without end, redirect loops, invalid UTF-8, JSON nested past any parser's
// depth, a JWKS of thousands of keys, a server that accepts and never answers.
// The conformance harness is pointed at deployments nobody here controls; a
// test runs `codexauth conform` against each behaviour and requires a named
// failure within --timeout, bounded memory and the reports written
// (cmd/codexauth/hostile_test.go).
//
// Except with NeverAnswers, discovery is a valid document pointing at this
// server, so that the harness gets past its reachability probe and meets the
// behaviour on every other request. The package imports nothing of the
// issuer or the harness: a checker is tested against code it does not share.
package hostileissuer

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Behaviours.
const (
	// NeverAnswers accepts connections, reads what arrives and never writes
	// a byte, not even for discovery.
	NeverAnswers = "never-answers"
	// SilentAfterDiscovery answers discovery, then takes every other request
	// and never answers it.
	SilentAfterDiscovery = "silent-after-discovery"
	// HugeBody declares an 8 GiB body and sends it as fast as it is read.
	HugeBody = "huge-body"
	// EndlessChunked sends a chunked body that never ends.
	EndlessChunked = "endless-chunked"
	// SlowBody sends a body one byte every 50 ms, without end.
	SlowBody = "slow-body"
	// EndlessHeaders sends a status line and then header lines without end.
	EndlessHeaders = "endless-headers"
	// RedirectLoop answers every request with a 302 to another URL of its own.
	RedirectLoop = "redirect-loop"
	// InvalidUTF8 answers JSON objects whose names and strings — tokens and
	// their claims too — hold bytes that are not UTF-8.
	InvalidUTF8 = "invalid-utf8"
	// DeepJSON answers JSON nested 200 000 levels deep.
	DeepJSON = "deep-json"
	// ManyKeys publishes a JWKS of 2 000 keys and answers everything else 404.
	ManyKeys = "many-keys"
)

// Behaviours lists every behaviour.
func Behaviours() []string {
	return []string{NeverAnswers, SilentAfterDiscovery, HugeBody, EndlessChunked, SlowBody, EndlessHeaders, RedirectLoop, InvalidUTF8, DeepJSON, ManyKeys}
}

// Server is a running hostile issuer on loopback.
type Server struct {
	URL       string
	Behaviour string

	ln    net.Listener
	srv   *http.Server
	done  chan struct{}
	mu    sync.Mutex
	conns map[net.Conn]bool // hijacked or raw connections, closed by Close
	wg    sync.WaitGroup
}

// Start runs behaviour on a free loopback port.
func Start(behaviour string) (*Server, error) {
	known := false
	for _, b := range Behaviours() {
		known = known || b == behaviour
	}
	if !known {
		return nil, fmt.Errorf("unknown behaviour %q (known: %s)", behaviour, strings.Join(Behaviours(), ", "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), Behaviour: behaviour, ln: ln, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	if behaviour == NeverAnswers {
		s.wg.Add(1)
		go s.acceptSilently()
		return s, nil
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server and every connection it holds.
func (s *Server) Close() {
	close(s.done)
	if s.srv != nil {
		_ = s.srv.Close()
	} else {
		_ = s.ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.conns[c] = true
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

func (s *Server) acceptSilently() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			_, _ = io.Copy(io.Discard, c) // until the client gives up
		}()
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/.well-known/openid-configuration" {
		s.discovery(w)
		return
	}
	switch s.Behaviour {
	case SilentAfterDiscovery:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case HugeBody:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.FormatInt(8<<30, 10))
		s.stream(w, r, []byte(`{"access_token":"`), 0)
	case EndlessChunked:
		w.Header().Set("Content-Type", "application/json")
		s.stream(w, r, []byte(`{"keys":[`), 0)
	case SlowBody:
		w.Header().Set("Content-Type", "application/json")
		s.stream(w, r, []byte(`{"a":"`), 50*time.Millisecond)
	case EndlessHeaders:
		s.endlessHeaders(w)
	case RedirectLoop:
		n, _ := strconv.Atoi(r.URL.Query().Get("hop"))
		http.Redirect(w, r, fmt.Sprintf("%s%s?hop=%d", s.URL, r.URL.Path, n+1), http.StatusFound)
	case InvalidUTF8:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(invalidUTF8Body())
	case DeepJSON:
		w.Header().Set("Content-Type", "application/json")
		const depth = 200_000
		_, _ = io.WriteString(w, `{"id_token":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`)
	case ManyKeys:
		if strings.HasSuffix(r.URL.Path, "jwks.json") || strings.HasSuffix(r.URL.Path, "/jwks") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(manyKeys())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not_found"}`)
	}
}

// discovery is a valid OpenID configuration (OpenID Connect Discovery 1.0
// §3) whose endpoints all lead back here.
func (s *Server) discovery(w http.ResponseWriter) {
	doc := map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.URL + "/oauth/authorize",
		"token_endpoint":                        s.URL + "/oauth/token",
		"jwks_uri":                              s.URL + "/.well-known/jwks.json",
		"revocation_endpoint":                   s.URL + "/oauth/revoke",
		"device_authorization_endpoint":         s.URL + "/api/accounts/deviceauth/usercode",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// stream writes prefix and then 'a's without end, flushing as it goes, a
// chunk at a time (one byte at a time when pace is set), until the client
// leaves or the server closes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, prefix []byte, pace time.Duration) {
	fl, _ := w.(http.Flusher)
	if _, err := w.Write(prefix); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("a", 32<<10))
	if pace > 0 {
		chunk = chunk[:1]
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		default:
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if pace > 0 {
			select {
			case <-time.After(pace):
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			}
		}
	}
}

// endlessHeaders takes the connection over and sends header lines until the
// client hangs up.
func (s *Server) endlessHeaders(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	c, _, err := hj.Hijack()
	if err != nil || !s.track(c) {
		return
	}
	defer s.untrack(c)
	bw := bufio.NewWriterSize(c, 32<<10)
	_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
	value := strings.Repeat("h", 1000)
	for i := 0; ; i++ {
		if _, err := fmt.Fprintf(bw, "X-Hostile-%d: %s\r\n", i, value); err != nil {
			return
		}
		if i%32 == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// invalidUTF8Body is one answer for every endpoint: each field codex reads
// holds bytes that are not UTF-8, the id_token's claims too, and a name
// that is not UTF-8 either.
func invalidUTF8Body() []byte {
	bad := "\xff\xfe\xc3\x28\xed\xa0\x80"
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"` + bad + `","typ":"JWT"}`))
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + bad + `","sub":"` + bad + `","email":"` + bad + `@example.com",` +
		`"https://api.openai.com/auth":{"chatgpt_account_id":"` + bad + `","chatgpt_plan_type":"` + bad + `"},"exp":4102444800}`))
	jwt := hdr + "." + claims + ".c2ln" + bad
	var b strings.Builder
	b.WriteString(`{"` + bad + `":"` + bad + `"`)
	for _, k := range []string{"device_auth_id", "user_code", "authorization_code", "code_challenge", "code_verifier", "refresh_token",
		"error", "error_description", "token_type", "issuer", "kid"} {
		b.WriteString(`,"` + k + `":"` + bad + k + `"`)
	}
	b.WriteString(`,"interval":"1","id_token":"` + jwt + `","access_token":"` + jwt + `","expires_in":3600`)
	b.WriteString(`,"keys":[{"kty":"RSA` + bad + `","kid":"` + bad + `","n":"` + bad + `","e":"AQAB"}]}`)
	return []byte(b.String())
}

var (
	keysOnce sync.Once
	keysBody []byte
)

// manyKeys is a JWKS of 2 000 RSA-2048 keys (one modulus under 2 000 kids:
// what costs the client is the count, not the key generation).
func manyKeys() []byte {
	keysOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		n := base64.RawURLEncoding.EncodeToString(k.N.Bytes())
		e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())
		keys := make([]map[string]string, 2000)
		for i := range keys {
			keys[i] = map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": fmt.Sprintf("hostile-%04d", i), "n": n, "e": e}
		}
		keysBody, _ = json.Marshal(map[string]any{"keys": keys})
	})
	return keysBody
}
