// Package statedir finds meshbox's state directory (generated secrets,
// pairing data, restore states, installed updates) and resolves the relay
// token, which may be kept in it. serve and the console commands (owner-token,
// pair, qr, tokens) look in the same places in the same order.
package statedir
