// Package hil is the host side of meshbox's hardware-in-the-loop test: it
// boots an armhf guest (Debian's armmp kernel, an initramfs holding the
// GOARM=7 meshbox) in QEMU's ast2600-evb machine, whose gpio-aspeed gpiochip
// and i2c-aspeed buses (with an emulated TMP105) are real kernel drivers, and
// plays the hardware through QEMU's QMP socket while a test drives the box as
// a phone over the forwarded WebSocket.
//
// scripts/hil/run.sh fetches and builds the guest and runs TestHIL with
// MESHBOX_HIL=1; without that switch the test skips.
package hil
