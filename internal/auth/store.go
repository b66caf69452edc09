package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// MaxPending bounds the page-session tokens minted for an open pairing
// window and not used yet; minting one more drops the oldest. The QR's token
// has a slot of its own (MintQR), so a flood of page sessions never pushes
// it out from under a phone that is scanning.
const MaxPending = 16

// WeakLen is the length under which a configured secret is called weak.
const WeakLen = 16

// ErrNotFound is returned by Revoke for an unknown token id.
var ErrNotFound = errors.New("no such token")

// Options configure a Store.
type Options struct {
	// Dir is the state directory (created 0700 when missing).
	Dir string
	// HubToken is the configured shared key (config token:,
	// MESH_AUTH_TOKEN, the generated state-dir token); "" = none.
	HubToken string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Token describes one phone token. It never carries the secret.
type Token struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	Scope    Scope     `json:"scope"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Pending: minted for the open pairing window, not used by a phone yet
	// (memory only; dropped when the window closes).
	Pending bool `json:"pending,omitempty"`
}

type entry struct {
	rec   record
	sum   [32]byte
	until time.Time // pending: valid until (zero = until ClearPending)
	// autoLabel: claimed from the pairing window with the label it was
	// minted with; the name the phone identifies with replaces it once
	// (Named). Memory only: a restart keeps whatever label was saved.
	autoLabel bool
}

// Store holds the credentials. Safe for concurrent use; Lookup is what the
// relay calls on every identify.
type Store struct {
	dir   string
	path  string
	hub   []byte
	owner []byte
	now   func() time.Time
	log   *slog.Logger

	firstStart bool
	created    time.Time

	mu      sync.Mutex
	tokens  []*entry // persisted
	pending []*entry // page-session tokens minted for pairing, not used yet
	qr      *entry   // the pairing QR's token, not used yet (never evicted by pending)
	dirty   bool     // last-seen times changed since the last save
	gen     uint64   // bumped on every change of tokens

	saveMu    sync.Mutex // serialises file writes (never held with mu)
	savedGen  uint64
	saveEvery time.Duration
}

// Open loads the store from opts.Dir. A missing credentials.json means the
// box's first start (FirstStart): the file is created at once, so a restart
// is never a first start again. A damaged file is moved aside
// (credentials.json.bad-UNIXTIME), logged as an error, and the box starts
// with no phone tokens: it keeps serving, and pairing stays closed. The
// owner credential is read from owner-token, or generated there.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("auth: no state directory")
	}
	s := &Store{dir: opts.Dir, path: filepath.Join(opts.Dir, CredentialsFile),
		now: opts.Now, log: opts.Logger, saveEvery: time.Minute}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.HubToken != "" {
		s.hub = []byte(opts.HubToken)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: state directory: %w", err)
	}
	owner, err := s.loadOwner()
	if err != nil {
		return nil, err
	}
	s.owner = []byte(owner)
	if s.hub != nil && subtle.ConstantTimeCompare(s.hub, s.owner) == 1 {
		return nil, fmt.Errorf("auth: %s: the owner credential equals the hub token; choose another (or delete the file to generate one)",
			filepath.Join(s.dir, OwnerTokenFile))
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) loadOwner() (string, error) {
	path := filepath.Join(s.dir, OwnerTokenFile)
	tok, err := ReadOwnerToken(s.dir)
	switch {
	case err == nil:
		if len(tok) < WeakLen {
			s.log.Warn("auth: WEAK OWNER CREDENTIAL: shorter than 16 characters; anyone who guesses it can update the box",
				"file", path)
		}
		return tok, nil
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errEmptyOwner):
	default:
		return "", fmt.Errorf("auth: owner credential: %w", err)
	}
	tok = NewSecret()
	if err := writeFile0600(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("auth: write owner credential: %w", err)
	}
	s.log.Info("auth: owner credential generated (print it with `sudo meshbox owner-token`)", "file", path)
	return tok, nil
}

var errEmptyOwner = errors.New("empty owner credential")

// ReadOwnerToken reads the owner credential from the state directory dir
// (for `meshbox owner-token` and the box). A symlink is refused.
func ReadOwnerToken(dir string) (string, error) {
	path := filepath.Join(dir, OwnerTokenFile)
	b, _, err := readPrivate(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s: %w", path, errEmptyOwner)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s: the owner credential must be one word", path)
	}
	return tok, nil
}

func (s *Store) load() error {
	b, fixed, err := readPrivate(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.firstStart = true
		s.created = s.now().UTC()
		s.gen = 1
		return s.save()
	}
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if fixed {
		s.log.Warn("auth: credentials file was readable by others; now 0600", "file", s.path)
	}
	f, err := parseFile(s.path, b)
	if err != nil {
		aside := fmt.Sprintf("%s.bad-%d", s.path, s.now().Unix())
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return fmt.Errorf("auth: %w (and cannot move it aside: %v)", err, rerr)
		}
		s.log.Error("auth: damaged credentials file moved aside; paired phones must pair again (pairing stays closed: `sudo meshbox pair`)",
			"err", err.Error(), "moved_to", aside)
		s.created = s.now().UTC()
		s.gen = 1
		return s.save()
	}
	s.created = f.Created
	for _, r := range f.Tokens {
		e := &entry{rec: r}
		sum, _ := hex.DecodeString(r.SHA256) // checked by parseFile
		copy(e.sum[:], sum)
		s.tokens = append(s.tokens, e)
	}
	return nil
}

// FirstStart reports whether this start found no state: the only start at
// which pairing opens by itself.
func (s *Store) FirstStart() bool { return s.firstStart }

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// HasHub reports whether a hub token is configured.
func (s *Store) HasHub() bool { return s.hub != nil }

// NewSecret returns a new random token: 24 random bytes, URL-safe base64
// (32 characters).
func NewSecret() string {
	var raw [24]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func newID() string {
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	return hex.EncodeToString(raw[:])
}

// Lookup returns the scope of a member token: the hub token, a stored phone
// token, or a pending one (which becomes stored: a phone has paired). The
// owner credential is not a member token. Comparisons are constant-time; a
// phone's first use is written to disk before Lookup returns.
func (s *Store) Lookup(token string) (Scope, bool) {
	if token == "" {
		return ScopeNone, false
	}
	if s.hub != nil && subtle.ConstantTimeCompare([]byte(token), s.hub) == 1 {
		return ScopeHub, true
	}
	sum := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	var hit *entry
	pendingAt := -1
	for _, e := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			hit = e
		}
	}
	for i, e := range s.pending {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			hit, pendingAt = e, i
		}
	}
	if s.qr != nil && subtle.ConstantTimeCompare(sum[:], s.qr.sum[:]) == 1 {
		hit, pendingAt = s.qr, len(s.pending) // past the list: the QR's slot
	}
	if hit == nil || (pendingAt >= 0 && !hit.until.IsZero() && !now.Before(hit.until)) {
		s.mu.Unlock()
		return ScopeNone, false
	}
	hit.rec.LastSeen = now.UTC()
	scope := hit.rec.Scope
	claimed := pendingAt >= 0
	if claimed {
		if hit == s.qr {
			s.qr = nil
		} else {
			s.pending = append(s.pending[:pendingAt], s.pending[pendingAt+1:]...)
		}
		hit.until = time.Time{}
		hit.autoLabel = true
		s.tokens = append(s.tokens, hit)
		s.gen++
	} else {
		s.dirty = true
	}
	rec := hit.rec
	s.mu.Unlock()
	if claimed {
		if err := s.save(); err != nil {
			s.log.Error("auth: cannot save a paired phone's token; it works until the box restarts", "err", err, "id", rec.ID)
		}
		s.log.Info("pairing: a phone paired", "token_id", rec.ID, "label", rec.Label, "scope", rec.Scope.String())
	}
	return scope, true
}

// IsOwner reports whether token is the owner credential (constant-time).
func (s *Store) IsOwner(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), s.owner) == 1
}

// OwnerSecret is the owner credential, for a handler that compares it
// itself (POST /update). Never log or serve it.
func (s *Store) OwnerSecret() string { return string(s.owner) }

// Mint creates and stores a phone token (for example a viewer from the
// owner's page) and returns its secret, shown once.
func (s *Store) Mint(scope Scope, label string) (string, Token, error) {
	e, secret, err := s.newEntry(scope, label)
	if err != nil {
		return "", Token{}, err
	}
	s.mu.Lock()
	if len(s.tokens) >= maxTokens {
		s.mu.Unlock()
		return "", Token{}, fmt.Errorf("already %d tokens: revoke some first", maxTokens)
	}
	s.tokens = append(s.tokens, e)
	s.gen++
	s.mu.Unlock()
	if err := s.save(); err != nil {
		s.mu.Lock()
		s.removeLocked(e.rec.ID)
		s.mu.Unlock()
		return "", Token{}, fmt.Errorf("save token: %w", err)
	}
	return secret, tokenOf(e, false), nil
}

// MintPending creates a token for the open pairing window: in memory until a
// phone uses it (then it is stored) or until (zero: until ClearPending).
// At most MaxPending are kept; the oldest is dropped first.
func (s *Store) MintPending(scope Scope, label string, until time.Time) (string, Token, error) {
	return s.mintPending(scope, label, until, func(e *entry) {
		if len(s.pending) >= MaxPending {
			s.pending = append(s.pending[:0], s.pending[1:]...)
		}
		s.pending = append(s.pending, e)
	})
}

// MintQR creates the token the pairing QR carries, in a slot of its own: it
// replaces the previous unused QR token and is never dropped by
// MintPending, however many page sessions are opened meanwhile. Like a
// pending token it is stored at its first use and valid until until.
func (s *Store) MintQR(scope Scope, label string, until time.Time) (string, Token, error) {
	return s.mintPending(scope, label, until, func(e *entry) { s.qr = e })
}

// mintPending creates a pending entry and files it with put, under s.mu.
func (s *Store) mintPending(scope Scope, label string, until time.Time, put func(*entry)) (string, Token, error) {
	e, secret, err := s.newEntry(scope, label)
	if err != nil {
		return "", Token{}, err
	}
	e.until = until
	s.mu.Lock()
	defer s.mu.Unlock()
	put(e)
	return secret, tokenOf(e, true), nil
}

// Named labels a phone token claimed from the pairing window (since this
// process started) with the name the phone identified with, so the token
// list says which phone is which. Only the first identify after the claim
// renames (to "NAME · OLD LABEL"); a name that CheckLabel refuses is
// ignored. The relay calls it
// after admitting a member through the store (relay.Namer).
func (s *Store) Named(token, name string) {
	if token == "" || name == "" || CheckLabel(name) != nil {
		return
	}
	sum := sha256.Sum256([]byte(token))
	s.mu.Lock()
	var hit *entry
	for _, e := range s.tokens {
		if e.autoLabel && subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			hit = e
		}
	}
	if hit == nil {
		s.mu.Unlock()
		return
	}
	hit.autoLabel = false
	old := hit.rec.Label
	label := name + " · " + old // "Alice-iPhone · phone (pairing QR)"
	if CheckLabel(label) != nil {
		label = name
	}
	hit.rec.Label = label
	s.gen++
	id := hit.rec.ID
	s.mu.Unlock()
	if err := s.save(); err != nil {
		s.log.Error("auth: cannot save a phone token's label", "err", err, "token_id", id)
	}
	s.log.Info("pairing: phone token labelled with its name", "token_id", id, "label", label)
}

func (s *Store) newEntry(scope Scope, label string) (*entry, string, error) {
	if scope != ScopeController && scope != ScopeViewer {
		return nil, "", fmt.Errorf("cannot mint a %s token", scope)
	}
	now := s.now().UTC()
	if label == "" {
		label = scope.String() + " " + now.Format("2006-01-02 15:04")
	}
	if err := CheckLabel(label); err != nil {
		return nil, "", fmt.Errorf("label: %w", err)
	}
	secret := NewSecret()
	e := &entry{rec: record{ID: newID(), Label: label, Scope: scope, Created: now}}
	e.sum = sha256.Sum256([]byte(secret))
	e.rec.SHA256 = hex.EncodeToString(e.sum[:])
	return e, secret, nil
}

// IsPending reports whether the pending token id is still waiting for its
// first use (false once a phone used it, or it was dropped).
func (s *Store) IsPending(id string) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.pending {
		if e.rec.ID == id {
			return e.until.IsZero() || now.Before(e.until)
		}
	}
	if s.qr != nil && s.qr.rec.ID == id {
		return s.qr.until.IsZero() || now.Before(s.qr.until)
	}
	return false
}

// ClearPending drops every pending token, the QR's too (the pairing window
// closed).
func (s *Store) ClearPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = nil
	s.qr = nil
}

// Revoke deletes the token id (stored or pending). A phone using it is
// refused at its next identify.
func (s *Store) Revoke(id string) (Token, error) {
	s.mu.Lock()
	e, wasPending := s.removeLocked(id)
	if e == nil {
		s.mu.Unlock()
		return Token{}, fmt.Errorf("%w: %q (meshbox tokens lists them)", ErrNotFound, id)
	}
	s.gen++
	s.mu.Unlock()
	if !wasPending {
		if err := s.save(); err != nil {
			return Token{}, fmt.Errorf("save: %w", err)
		}
	}
	t := tokenOf(e, wasPending)
	s.log.Info("auth: token revoked", "token_id", t.ID, "label", t.Label, "scope", t.Scope.String())
	return t, nil
}

// removeLocked removes id from the tokens or the pending list; s.mu is held.
func (s *Store) removeLocked(id string) (*entry, bool) {
	for i, e := range s.tokens {
		if e.rec.ID == id {
			s.tokens = append(s.tokens[:i], s.tokens[i+1:]...)
			return e, false
		}
	}
	for i, e := range s.pending {
		if e.rec.ID == id {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return e, true
		}
	}
	if e := s.qr; e != nil && e.rec.ID == id {
		s.qr = nil
		return e, true
	}
	return nil, false
}

// List returns the stored tokens, then the QR's and the other pending ones,
// oldest first.
func (s *Store) List() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Token, 0, len(s.tokens)+len(s.pending)+1)
	for _, e := range s.tokens {
		out = append(out, tokenOf(e, false))
	}
	if s.qr != nil {
		out = append(out, tokenOf(s.qr, true))
	}
	for _, e := range s.pending {
		out = append(out, tokenOf(e, true))
	}
	return out
}

func tokenOf(e *entry, pending bool) Token {
	return Token{ID: e.rec.ID, Label: e.rec.Label, Scope: e.rec.Scope, Created: e.rec.Created,
		LastSeen: e.rec.LastSeen, Pending: pending}
}

// save writes credentials.json when it changed since the last write.
func (s *Store) save() error {
	s.mu.Lock()
	f := fileData{Version: fileVersion, Created: s.created, Tokens: make([]record, 0, len(s.tokens))}
	for _, e := range s.tokens {
		f.Tokens = append(f.Tokens, e.rec)
	}
	gen := s.gen
	s.dirty = false
	s.mu.Unlock()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if gen < s.savedGen { // a newer snapshot is already on disk
		return nil
	}
	if err := writeFile0600(s.path, append(b, '\n')); err != nil {
		return err
	}
	s.savedGen = gen
	return nil
}

// Flush writes last-seen times that changed since the last write.
func (s *Store) Flush() error {
	s.mu.Lock()
	dirty := s.dirty
	if dirty {
		s.gen++
	}
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	return s.save()
}

// Run flushes last-seen times every minute and once more when ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.saveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(); err != nil {
				s.log.Warn("auth: cannot save last-seen times", "err", err)
			}
			return nil
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.log.Warn("auth: cannot save last-seen times", "err", err)
			}
		}
	}
}
