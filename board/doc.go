// Package board describes the 40-pin header of the Raspberry Pi models
// meshbox supports (Pi Zero / Zero W, Zero 2 W, 3, 4 and 5): which physical
// pin carries which BCM GPIO, power or ground, and the special functions
// (I²C, UART, SPI, PWM with its sysfs chip/channel, 1-Wire, PCM) each GPIO
// can take. It also recognises the running model from
// /proc/device-tree/model or the Revision line of /proc/cpuinfo.
//
// All data is returned as fresh values from functions; the package holds no
// mutable state.
package board
