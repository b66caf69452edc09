package pairing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshbox/meshbox/internal/auth"
)

// MaxRequestBytes bounds an admin request (control socket and the owner's
// HTTP API).
const MaxRequestBytes = 4096

// Request is one owner operation, from the owner's page (POST /api/owner,
// owner credential) or the console (`sudo meshbox pair|qr|tokens`, the
// control socket).
type Request struct {
	// Op: status | pair | close | qr | viewer | tokens | revoke.
	Op    string `json:"op"`
	ID    string `json:"id,omitempty"`    // revoke: the token id
	Label string `json:"label,omitempty"` // viewer: the new token's label
	PNG   bool   `json:"png,omitempty"`   // pair, qr, viewer: add the QR as a PNG
}

// Response answers a Request.
type Response struct {
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
	Open  bool      `json:"open"`           // pairing open now
	Until time.Time `json:"until,omitzero"` // when it closes
	// Pairing is the QR content (it carries a member token, never the
	// owner credential); QRPNG its image when asked for.
	Pairing *Payload     `json:"pairing,omitempty"`
	QRPNG   []byte       `json:"qr_png,omitempty"`
	Tokens  []auth.Token `json:"tokens,omitempty"`
	Token   *auth.Token  `json:"token,omitempty"` // revoked or minted
	Warning string       `json:"warning,omitempty"`
}

// ParseRequest decodes one request strictly: at most MaxRequestBytes, one
// JSON object, known fields and operations.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) > MaxRequestBytes {
		return r, fmt.Errorf("request larger than %d bytes", MaxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("request: %w", err)
	}
	if dec.More() {
		return r, errors.New("request: text after the JSON object")
	}
	switch r.Op {
	case "status", "pair", "close", "qr", "tokens":
	case "revoke":
		if r.ID == "" || len(r.ID) > 32 {
			return r, errors.New("revoke: id required (meshbox tokens lists them)")
		}
	case "viewer":
		if err := auth.CheckLabel(r.Label); err != nil {
			return r, fmt.Errorf("viewer: label: %w", err)
		}
	default:
		return r, fmt.Errorf("unknown op %q (status, pair, close, qr, viewer, tokens, revoke)", r.Op)
	}
	return r, nil
}

// Admin carries out owner operations. The caller has checked the owner
// credential (HTTP) or the socket's file permissions (console).
type Admin struct {
	Manager *Manager
	Store   *auth.Store // nil: no phone tokens (open relay)
	// Payload builds the QR content for a member token and role.
	Payload func(token, role string) Payload
	// Warning returns the relay's weak-token warning ("" = none).
	Warning func() string
	// Revoked, when set, is called after a token was revoked: in an
	// encrypted room the room key rotates with the phone tokens
	// ((*e2ee.KeyFile).Rotate), so a revoked phone cannot read the room
	// any more. An error is reported in the response's Warning.
	Revoked func(auth.Token) error
	Logger  *slog.Logger
}

// Do runs req; by names the caller in logs ("the console", "the owner's page").
func (a *Admin) Do(req Request, by string) Response {
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	resp := a.status()
	fail := func(err error) Response {
		resp.OK, resp.Error = false, err.Error()
		return resp
	}
	switch req.Op {
	case "status":
	case "pair":
		tok, err := a.Manager.OpenBy(by)
		if err != nil {
			return fail(err)
		}
		resp = a.status()
		if err := a.withQR(&resp, tok, DefaultRole, req.PNG); err != nil {
			return fail(err)
		}
	case "close":
		a.Manager.Close()
		log.Info("pairing closed by " + by)
		resp = a.status()
	case "qr":
		if !resp.Open {
			return fail(errors.New("pairing is closed: `sudo meshbox pair` (or the owner's page) opens it"))
		}
		tok, _ := a.Manager.QRToken()
		if err := a.withQR(&resp, tok, DefaultRole, req.PNG); err != nil {
			return fail(err)
		}
	case "viewer":
		if a.Store == nil || !a.Store.HasHub() {
			return fail(errors.New("the relay is open (no token): a viewer needs no token"))
		}
		label := req.Label
		if label == "" {
			label = "viewer (owner) " + time.Now().UTC().Format("2006-01-02 15:04")
		}
		sec, tok, err := a.Store.Mint(auth.ScopeViewer, label)
		if err != nil {
			return fail(err)
		}
		log.Info("auth: viewer token minted by "+by, "token_id", tok.ID, "label", tok.Label)
		resp.Token = &tok
		if err := a.withQR(&resp, sec, "viewer", req.PNG); err != nil {
			return fail(err)
		}
	case "tokens":
		if a.Store != nil {
			resp.Tokens = a.Store.List()
		}
		if resp.Tokens == nil {
			resp.Tokens = []auth.Token{}
		}
	case "revoke":
		if a.Store == nil {
			return fail(auth.ErrNotFound)
		}
		tok, err := a.Store.Revoke(req.ID)
		if err != nil {
			return fail(err)
		}
		resp.Token = &tok
		if a.Revoked != nil {
			if err := a.Revoked(tok); err != nil {
				log.Error("after revoking a token", "token_id", tok.ID, "err", err)
				resp.Warning = "token revoked, but: " + err.Error()
			}
		}
	default:
		return fail(fmt.Errorf("unknown op %q", req.Op))
	}
	resp.OK = true
	return resp
}

func (a *Admin) status() Response {
	r := Response{Open: a.Manager.Open()}
	if r.Open && a.Manager.Window() != nil {
		r.Until = a.Manager.Window().Until()
	}
	if a.Warning != nil {
		r.Warning = a.Warning()
	}
	return r
}

func (a *Admin) withQR(r *Response, token, role string, png bool) error {
	p := a.Payload(token, role)
	r.Pairing = &p
	if !png {
		return nil
	}
	q, err := NewQR(p.JSON())
	if err != nil {
		return err
	}
	r.QRPNG, err = q.PNG(320)
	return err
}
