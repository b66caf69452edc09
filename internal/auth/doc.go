// Package auth is the box's credential store: who may join the relay and
// with which scope, and who may use the HTTP admin surface.
//
//   - The hub token (the config's token:, MESH_AUTH_TOKEN, or the one
//     generated in the state directory) keeps exactly its old meaning: a
//     full mesh member. It is never stored by this package.
//   - Phone tokens (scope controller or viewer) are minted for pairing, each
//     with a label, its creation time and when it was last seen; they are
//     revocable. Only their SHA-256 is kept, in credentials.json (mode 0600)
//     in the state directory, so phones paired before a restart keep
//     working. Tokens minted for an open pairing window are "pending": held
//     in memory only, until a phone first identifies with one (then it is
//     persisted) or the window closes (then it is dropped).
//   - The owner credential (owner-token, mode 0600 in the state directory,
//     generated on first start or written at flash time) opens the HTTP
//     admin surface: updates, pairing control, token list and revoke. It is
//     never a member token: the relay refuses it.
//
// Every comparison is constant-time. Store implements the relay's
// Credentials (Lookup) through a small adapter in the box.
package auth
