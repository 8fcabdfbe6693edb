package issuer

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Admin API: headless approvals (device codes, authorization requests).

func (s *Server) adminDeviceDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			UserCode string `json:"user_code"`
			User     string `json:"user"`
		}
		if err := readJSON(w, r, &in); err != nil {
			oauth.Write(w, err)
			return
		}
		if in.UserCode == "" || (approve && in.User == "") {
			oauth.Write(w, oauth.InvalidRequest("user_code (and, to approve, user) are required"))
			return
		}
		if approve {
			if _, err := s.store.GetUser(r.Context(), in.User); err != nil {
				oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
				return
			}
		}
		d, err := s.store.DecideDeviceCode(r.Context(), userCodeHash(in.UserCode), approve, in.User, s.clock.Now())
		switch {
		case errors.Is(err, store.ErrNotFound):
			oauth.Write(w, oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no device code %q", in.UserCode))
		case errors.Is(err, store.ErrExpired):
			oauth.Write(w, oauth.New(http.StatusConflict, oauth.CodeExpiredToken, "device code expired"))
		case errors.Is(err, store.ErrConflict):
			oauth.Write(w, oauth.New(http.StatusConflict, "already_decided", "device code was already decided"))
		case err != nil:
			oauth.Write(w, s.storeErr(r, "decide device code", err))
		default:
			writeJSON(w, http.StatusOK, map[string]any{"status": d.Status, "client_id": d.ClientID})
		}
	}
}

// adminAuthorize completes an authorization request headlessly as a user
// and returns the redirect the browser would follow.
func (s *Server) adminAuthorize(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL  string `json:"url"`
		User string `json:"user"`
	}
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	u, err := url.Parse(in.URL)
	if err != nil || in.User == "" {
		oauth.Write(w, oauth.InvalidRequest("url (an authorize URL) and user are required"))
		return
	}
	if _, err := s.store.GetUser(r.Context(), in.User); err != nil {
		oauth.Write(w, oauth.InvalidRequest("no user %q", in.User))
		return
	}
	req, redirectErr, pageErr := s.validateAuthorize(u.Query())
	if pageErr != nil {
		oauth.Write(w, pageErr)
		return
	}
	if redirectErr != nil {
		writeJSON(w, http.StatusOK, map[string]string{"redirect": s.redirectError(req, redirectErr)})
		return
	}
	loc, err := s.completeAuthorize(r.Context(), req, in.User)
	if err != nil {
		oauth.Write(w, s.storeErr(r, "create authorization code", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": loc})
}
