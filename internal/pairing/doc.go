// Package pairing builds what a phone needs to join the box: the pairing
// payload of protocol §15.1 ({"url","channel","role","token"}), the LAN
// address that goes into its URL, the QR code (terminal text and PNG), the
// pairing window that decides when the token may be shown, and the optional
// mDNS/DNS-SD advertisement (_meshsocket._tcp).
package pairing
