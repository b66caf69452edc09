// Package cli implements meshbox's MeshSocket client commands (send,
// request, listen, nodes) on top of package meshsocket. They work against
// meshbox or any other MeshSocket relay. Flags may come before or after the
// positional arguments; "--" ends the flags (for payloads such as -5).
package cli
