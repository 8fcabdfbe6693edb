package issuer

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// agentTTL is the lifetime of minted agent identities.
const agentTTL = 24 * time.Hour

// mountAgent registers the agent-identity endpoints codex uses (contract §8).
func (s *Server) mountAgent(r chi.Router) {
	// codex fetches <jwks-base>/wham/agent-identities/jwks, or
	// <jwks-base>/agent-identities/jwks when the base has no /backend-api.
	r.Get("/backend-api/wham/agent-identities/jwks", s.handleAgentJWKS)
	r.Get("/agent-identities/jwks", s.handleAgentJWKS)
}

func (s *Server) handleAgentJWKS(w http.ResponseWriter, r *http.Request) {
	s.handleJWKS(w, r)
}

func (s *Server) mountAdminAgent(r chi.Router) {}
