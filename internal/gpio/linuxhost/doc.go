// Package linuxhost is the Linux hardware backend: GPIO through the kernel's
// character device (periph.io/x/host/v3/gpioioctl, registered together with
// periph's sysfs drivers and started with driverreg.Init — never host.Init,
// which fails on a Pi 5 and on emulated boards), I²C through i2creg
// (/dev/i2c-N), serial ports through go.bug.st/serial, PWM through
// /sys/class/pwm and plain sysfs reads for 1-Wire and thermal zones.
//
// Lines are addressed by chip and offset, or by BCM number on the 40-pin
// header chip (found by its pinctrl label), never by device-tree line name,
// which differs between Pi models. Outputs are requested as outputs already
// at their initial level (one GPIO_V2_GET_LINE ioctl with output values, so
// there is no glitch) and their level is kept in software: an output is never
// read back, because periph would turn it into an input with a pull-up.
//
// On other operating systems the package compiles, Available reports false
// and New returns gpio.ErrUnsupported.
package linuxhost
