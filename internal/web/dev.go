package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/callverify/callverify/internal/auth"
	"github.com/callverify/callverify/internal/phone"
)

// devTokens serves /dev/token: GET says development sign-in is on (404
// when it is not), POST mints a token of the role asked for. Anyone who
// can reach a --dev server may then act in any role, as anyone holding its
// data directory could already: --dev is for a developer's own machine.
type devTokens struct {
	mint  Minter
	phone *phone.Parser
	log   *slog.Logger
}

type devTokenRequest struct {
	Role        string `json:"role"`
	Subject     string `json:"subject"`
	PhoneNumber string `json:"phoneNumber"`
}

type devTokenResponse struct {
	Token       string    `json:"token"`
	Role        string    `json:"role"`
	Subject     string    `json:"subject"`
	PhoneNumber string    `json:"phoneNumber,omitempty"`
	ExpireTime  time.Time `json:"expireTime"`
}

// maxSubject bounds a chosen subject, as the token verifier would refuse
// nothing shorter.
const maxSubject = 64

func (d *devTokens) info(w http.ResponseWriter, r *http.Request) {
	if d.mint == nil {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": []auth.Role{auth.RoleAnalyst, auth.RoleAdmin, auth.RoleDialer, auth.RoleCustomer}})
}

func (d *devTokens) create(w http.ResponseWriter, r *http.Request) {
	if d.mint == nil {
		http.NotFound(w, r)
		return
	}
	// JSON only: a form another site posts cannot reach here (its answer
	// could not be read anyway, but nothing need be minted for it).
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the request as application/json")
		return
	}
	var req devTokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be a JSON object with role and, for a customer, phoneNumber")
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, "role must be customer, dialer, analyst or admin")
		return
	}
	if len(req.Subject) > maxSubject {
		writeError(w, http.StatusBadRequest, "subject is longer than 64 characters")
		return
	}
	var number string
	if role == auth.RoleCustomer {
		n, err := d.phone.Parse(req.PhoneNumber)
		if err != nil {
			var inv *phone.InvalidError
			msg := "phoneNumber is not a phone number"
			if errors.As(err, &inv) {
				msg = "phoneNumber " + inv.Reason
			}
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		number = n.String()
	}
	sub := req.Subject
	if sub == "" {
		sub = "dev-" + string(role)
		if number != "" {
			sub = "dev-customer-" + number
		}
	}
	tok, exp, err := d.mint(role, sub, number)
	if err != nil {
		d.log.Error("dev token", "error", err)
		writeError(w, http.StatusInternalServerError, "the development token could not be minted")
		return
	}
	d.log.Warn("--dev: minted a development token", "role", role, "sub", sub)
	writeJSON(w, http.StatusOK, devTokenResponse{Token: tok, Role: string(role), Subject: sub, PhoneNumber: number, ExpireTime: exp})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the shape of the API's errors: the gRPC code the
// HTTP status stands for, and a sentence.
func writeError(w http.ResponseWriter, httpCode int, msg string) {
	c := codes.InvalidArgument
	if httpCode >= 500 {
		c = codes.Internal
	}
	writeJSON(w, httpCode, map[string]any{"code": c, "message": msg})
}
