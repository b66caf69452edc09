// Package bootcfg writes the Raspberry Pi firmware's config.txt block for a
// meshbox configuration: the buses it uses (I²C, 1-Wire, hardware PWM, the
// header UART, strict_gpiod) and one gpio= line per output at its power-on
// level, so that a relay is at its safe level about a second after power-on
// instead of at the SoC's default pull for the 10–30 s until meshbox starts.
//
// It also says which outputs the default pulls (BCM 0–8 up, 9–27 down)
// energize during that first second, before the firmware reads config.txt,
// and names a free pin that would not. flash.sh writes the block that
// `meshbox config-txt` prints (a host build of meshbox), so the image and the
// check agree by construction.
package bootcfg
