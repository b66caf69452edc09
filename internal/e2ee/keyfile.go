package e2ee

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/meshbox/meshbox/internal/atomicfile"
)

// KeyFileName is the room key's file in the state directory.
const KeyFileName = "e2ee.key"

// ReplayFileName is the replay state's file in the state directory.
const ReplayFileName = "e2ee-replay.json"

// KeyFile is the room key kept (base64, mode 0600) in the state directory.
// It is safe for concurrent use.
type KeyFile struct {
	path string

	mu     sync.Mutex
	key    Key
	hooks  []func(Key)
	rotate sync.Mutex // serialises Rotate (file write + hooks)
}

// OpenKeyFile reads the key at path, or generates one and writes it there
// (mode 0600, directory 0700) when the file does not exist or is empty;
// created says which. An existing file is tightened to mode 0600. A file
// that holds something else than a key is an error (it is never
// overwritten).
func OpenKeyFile(path string) (f *KeyFile, created bool, err error) {
	f = &KeyFile{path: path}
	data, err := os.ReadFile(path)
	switch {
	case err == nil && len(data) > 0:
		k, perr := ParseKey(string(data))
		if perr != nil {
			return nil, false, fmt.Errorf("%s: %w", path, perr)
		}
		if cerr := os.Chmod(path, 0o600); cerr != nil {
			return nil, false, cerr
		}
		f.key = k
		return f, false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	}
	k, err := GenerateKey(nil)
	if err != nil {
		return nil, false, err
	}
	if err := WritePrivate(path, []byte(k.String()+"\n")); err != nil {
		return nil, false, err
	}
	f.key = k
	return f, true, nil
}

// Path returns the key file's path.
func (f *KeyFile) Path() string { return f.path }

// Key returns the current key.
func (f *KeyFile) Key() Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key
}

// OnRotate registers fn, called with the new key after every Rotate (in
// the rotating goroutine, without any lock held).
func (f *KeyFile) OnRotate(fn func(Key)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks = append(f.hooks, fn)
}

// Rotate replaces the key with a fresh one, writes it (atomically, 0600)
// and calls the OnRotate hooks. Every member that held the old key is out
// of the room until it gets the new one (pairing again). It is the hook
// the phone-token rotation calls.
func (f *KeyFile) Rotate() (Key, error) {
	f.rotate.Lock()
	defer f.rotate.Unlock()
	k, err := GenerateKey(nil)
	if err != nil {
		return Key{}, err
	}
	if err := WritePrivate(f.path, []byte(k.String()+"\n")); err != nil {
		return Key{}, err
	}
	f.mu.Lock()
	f.key = k
	hooks := append([]func(Key){}, f.hooks...)
	f.mu.Unlock()
	for _, h := range hooks {
		h(k)
	}
	return k, nil
}

// WritePrivate writes data to path atomically with mode 0600, creating the
// directory (0700) when missing.
func WritePrivate(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o600)
}
