// Package phonetest is a fake phone for tests: a raw WebSocket member
// (gorilla/websocket over a real loopback socket) that joins a meshbox box
// or relay the way the app does — identify with name, token, channel, role
// and capability flags, wait for welcome — and then sends frames, commands
// and broadcast requests and waits for the frames and broadcasts it expects.
//
// Every helper takes the test's testing.TB, calls t.Helper and fails the
// test on a timeout or a write error; nothing is package-level state.
// Received frames are queued without bound, so a slow test never makes the
// reader drop or block.
package phonetest
