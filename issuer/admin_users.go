package issuer

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// Admin API: the user fixtures (list, get, put, delete); password hashes never leave.

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		oauth.Write(w, s.storeErr(r, "list users", err))
		return
	}
	for i := range users {
		users[i].PasswordHash = ""
	}
	if users == nil {
		users = []store.User{}
	}
	writeJSON(w, http.StatusOK, users)
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.store.GetUser(r.Context(), chi.URLParam(r, "id"))
	if s.storeFailed(w, r, err, "get user", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no user %q", chi.URLParam(r, "id"))) {
		return
	}
	u.PasswordHash = ""
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) adminPutUser(w http.ResponseWriter, r *http.Request) {
	var in UserFixture
	if err := readJSON(w, r, &in); err != nil {
		oauth.Write(w, err)
		return
	}
	in.ID = chi.URLParam(r, "id")
	u, err := in.ToUser()
	if err != nil {
		oauth.Write(w, oauth.InvalidRequest("%v", err))
		return
	}
	if err := s.store.PutUser(r.Context(), u); err != nil {
		oauth.Write(w, s.storeErr(r, "put user", err))
		return
	}
	u.PasswordHash = ""
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.store.DeleteUser(r.Context(), chi.URLParam(r, "id"))
	if s.storeFailed(w, r, err, "delete user", oauth.New(http.StatusNotFound, oauth.CodeNotFound, "no user %q", chi.URLParam(r, "id"))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
