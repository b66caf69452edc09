package auth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/meshbox/meshbox/internal/atomicfile"
)

// File names inside the state directory.
const (
	CredentialsFile = "credentials.json" // phone tokens (hashed)
	OwnerTokenFile  = "owner-token"      // the owner credential (plain text: `meshbox owner-token` prints it)
)

// fileVersion is the credentials.json format version.
const fileVersion = 1

// Limits of the file and of labels.
const (
	maxFileBytes = 1 << 20
	maxTokens    = 1000
	MaxLabelLen  = 64
)

// record is one phone token as stored: never the secret, only its SHA-256.
type record struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	Scope    Scope     `json:"scope"`
	SHA256   string    `json:"sha256"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// fileData is credentials.json.
type fileData struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"` // the box's first start
	Tokens  []record  `json:"tokens"`
}

// rawFile is credentials.json as decoded, before its scopes are checked
// (so an unknown scope is reported with its field).
type rawFile struct {
	Version int         `json:"version"`
	Created time.Time   `json:"created"`
	Tokens  []rawRecord `json:"tokens"`
}

type rawRecord struct {
	record
	Scope string `json:"scope"`
}

// FileError is one problem in credentials.json: "FILE: FIELD: reason".
type FileError struct {
	File, Field, Reason string
}

func (e *FileError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Reason
	}
	return e.File + ": " + e.Field + ": " + e.Reason
}

// parseFile decodes and checks the text of credentials.json. name is used
// in errors.
func parseFile(name string, b []byte) (*fileData, error) {
	fail := func(field, format string, a ...any) error {
		return &FileError{File: name, Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if len(b) > maxFileBytes {
		return nil, fail("", "larger than %d bytes", maxFileBytes)
	}
	if !utf8.Valid(b) {
		return nil, fail("", "not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw rawFile
	if err := dec.Decode(&raw); err != nil {
		return nil, fail("", "%v", err)
	}
	if dec.More() {
		return nil, fail("", "text after the JSON object")
	}
	if raw.Version != fileVersion {
		return nil, fail("version", "%d, want %d", raw.Version, fileVersion)
	}
	if len(raw.Tokens) > maxTokens {
		return nil, fail("tokens", "%d tokens, at most %d", len(raw.Tokens), maxTokens)
	}
	f := fileData{Version: raw.Version, Created: raw.Created}
	ids := map[string]bool{}
	sums := map[string]bool{}
	for i, rr := range raw.Tokens {
		field := fmt.Sprintf("tokens[%d]", i)
		r := rr.record
		sc, err := ParseScope(rr.Scope)
		if err != nil {
			return nil, fail(field+".scope", "%v", err)
		}
		r.Scope = sc
		if !validID(r.ID) {
			return nil, fail(field+".id", "%q is not 1-32 letters and digits", r.ID)
		}
		if ids[r.ID] {
			return nil, fail(field+".id", "%q appears twice", r.ID)
		}
		ids[r.ID] = true
		if err := CheckLabel(r.Label); err != nil {
			return nil, fail(field+".label", "%v", err)
		}
		if sum, err := hex.DecodeString(r.SHA256); err != nil || len(sum) != 32 {
			return nil, fail(field+".sha256", "not 64 hex digits")
		}
		if sums[r.SHA256] {
			return nil, fail(field+".sha256", "the same token appears twice")
		}
		sums[r.SHA256] = true
		f.Tokens = append(f.Tokens, r)
	}
	return &f, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// CheckLabel accepts a token label: at most MaxLabelLen characters, no
// control or line-separator characters.
func CheckLabel(s string) error {
	if utf8.RuneCountInString(s) > MaxLabelLen {
		return fmt.Errorf("longer than %d characters", MaxLabelLen)
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' || c == utf8.RuneError {
			return fmt.Errorf("contains a control character (%U)", c)
		}
	}
	return nil
}

// writeFile0600 replaces path with data atomically, mode 0600 from its
// creation (internal/atomicfile).
func writeFile0600(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o600)
}

// errNotRegular is returned for a credential path that is a symlink or not a
// regular file.
var errNotRegular = errors.New("not a regular file (symlink or special file refused)")

// readPrivate reads a credential file without following a symlink, and
// tightens its mode to 0600 when it is readable by others (fixed reports
// that).
func readPrivate(path string) (data []byte, fixed bool, err error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: %w", path, errNotRegular)
	}
	if st.Size() > maxFileBytes {
		return nil, false, fmt.Errorf("%s: larger than %d bytes", path, maxFileBytes)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, false, fmt.Errorf("%s: mode %v and cannot make it 0600: %w", path, st.Mode().Perm(), err)
		}
		fixed = true
	}
	data, err = os.ReadFile(path)
	return data, fixed, err
}
