// Package e2ee implements the phone app's frozen "v2" end-to-end envelope
// (spec §15.5) and the replay protection meshbox adds on top of it.
//
// An envelope is {"e2ee":2,"s":"<base64 16-byte salt>","n":<counter>,"ct":"<base64>"}.
// The sealing key is HKDF-SHA256(secret = room key, salt = s, info, 32 bytes);
// the cipher is ChaCha20-Poly1305 (IETF) with nonce = 4 zero bytes ‖ the
// counter as 8 big-endian bytes, no associated data; the plaintext is compact
// JSON. In room mode everyone seals and opens with info "grp v2"; the
// directional mode uses "d2c v2" (device seals) and "c2d v2" (phone seals).
//
// A Sealer owns one per-session salt drawn from crypto/rand when it is made,
// so a restarted box never reuses a (key, nonce) pair. An Opener accepts, per
// sender salt, only counters above the highest seen or inside a 64-wide
// reordering window that have not been seen yet, and tracks a bounded number
// of salts (least recently used are retired and remembered in a bounded ring,
// so their envelopes cannot be replayed after eviction either).
package e2ee
