package issuer_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOversizeChunkedFormsGet413: a form post whose body turns out too
// large while it is read (chunked: no Content-Length to refuse it by) is
// answered 413 on the HTML form routes too, not "the form could not be
// read" or a CSRF refusal. (The device page checks the session before it
// reads a body: without one it is 401, body unread.)
func TestOversizeChunkedFormsGet413(t *testing.T) {
	e := start(t, nil)
	for _, path := range []string{"/login", "/logout", "/console/login"} {
		body := io.MultiReader(strings.NewReader("csrf=x&user="), strings.NewReader(strings.Repeat("a", 70<<10)))
		req, err := http.NewRequest(http.MethodPost, e.url+path, body) // unknown length: sent chunked
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "invalid_request") {
			t.Errorf("%s: %d %.200s, want 413 invalid_request", path, res.StatusCode, b)
		}
	}
}
