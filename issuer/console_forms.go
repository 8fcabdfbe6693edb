package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/codexauth/codexauth/issuer/oauth"
)

// Console forms: how an action is run and answered, and the in-process call of an admin API handler.

func isFetch(r *http.Request) bool { return r.Header.Get("X-Console-Fetch") != "" }

// consoleAction performs one console action and says what it did.
type consoleAction func(ctx context.Context, r *http.Request) (string, *oauth.Error)

// consoleForm wraps an action: form parsing, CSRF, the acting marker, and
// the answer — JSON to the page's script, a redirect back to the console
// (with the outcome) to a browser without one.
func (s *Server) consoleForm(section string, act consoleAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r); errors.Is(err, errAnswered) {
			return
		} else if err != nil {
			s.consoleAnswer(w, r, section, "", oauth.InvalidRequest("the form could not be read"))
			return
		}
		if err := s.consoleCSRF(r); err != nil {
			s.log.Warn("console form refused", "path", r.URL.Path, "reason", err)
			s.consoleAnswer(w, r, section, "", oauth.New(http.StatusForbidden, oauth.CodeAccessDenied,
				"request refused: %v. Reload the console and try again.", err))
			return
		}
		ctx := context.WithValue(r.Context(), consoleActorKey{}, true)
		note, e := act(ctx, r.WithContext(ctx))
		if e == nil {
			s.log.Info("console action", "path", strings.TrimPrefix(r.URL.Path, s.basePath()), "result", note)
			s.console.hub.publish(consoleEvent{Name: "state", Data: []byte(`{"changed":"` + section + `"}`)})
		}
		s.consoleAnswer(w, r, section, note, e)
	}
}

func (s *Server) consoleAnswer(w http.ResponseWriter, r *http.Request, section, note string, e *oauth.Error) {
	if isFetch(r) {
		if e != nil {
			writeJSON(w, e.Status, map[string]any{"ok": false, "message": e.Description})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": note})
		return
	}
	if e != nil && e.Status == http.StatusForbidden {
		s.renderMessage(w, r, http.StatusForbidden, "Request refused", e.Description, "")
		return
	}
	q := url.Values{}
	if e != nil {
		q.Set("error", e.Description)
	} else if note != "" {
		q.Set("note", note)
	}
	loc := s.basePath() + "/"
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	if section != "" {
		loc += "#" + section
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// viaAdmin runs an admin API handler in-process with a JSON body and
// returns its JSON answer, or its error.
func (s *Server) viaAdmin(ctx context.Context, h http.HandlerFunc, body any) (map[string]any, *oauth.Error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, oauth.InvalidRequest("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.basePath()+"/__admin", bytes.NewReader(b))
	if err != nil {
		return nil, oauth.InvalidRequest("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &bufferedResponse{header: http.Header{}}
	h(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.buf.Bytes(), &out)
	if rec.status >= 400 {
		desc, _ := out["error_description"].(string)
		code, _ := out["error"].(string)
		if desc == "" {
			desc = http.StatusText(rec.status)
		}
		return nil, oauth.New(rec.status, code, "%s", desc)
	}
	return out, nil
}
