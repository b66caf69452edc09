package hil

import "fmt"

// QOM paths of the ast2600-evb parts the test plays.
const (
	// GPIOPath is the 3.3 V GPIO controller (1e780000.gpio, Linux gpiochip0,
	// 208 lines). The 1.8 V one (36 lines, gpiochip1) is /machine/soc/gpio_1_8v.
	GPIOPath = "/machine/soc/gpio"
	// GPIOLabel is the Linux label of that controller and GPIOLines its size.
	GPIOLabel = "1e780000.gpio"
	GPIOLines = 208
)

// GPIOName returns QEMU's aspeed-gpio property name ("gpioA0", "gpioB7",
// "gpioAA0") of a gpio-aspeed line offset. Both number lines the same way:
// sets of 8 lines named A..Z, then AA, AB, ...; offset = set*8 + bit.
func GPIOName(offset int) string {
	if offset < 0 {
		return fmt.Sprintf("gpio?%d", offset)
	}
	return fmt.Sprintf("gpio%s%d", setName(offset/8), offset%8)
}

func setName(set int) string {
	if set < 26 {
		return string(rune('A' + set))
	}
	return string(rune('A'+set/26-1)) + string(rune('A'+set%26))
}

// gpioLatchBase is the 3.3 V controller's first "data read" register
// (0x1e780000 + 0xc0); there is one per set of 32 lines (ABCD, EFGH, ...,
// every 4 bytes): the output latch, the last value the kernel wrote.
const gpioLatchBase = 0x1e7800c0

// GPIOLatch returns the physical address and bit of the output latch of a
// gpiochip0 line. Real hardware drives that latch as soon as the line is an
// output; QEMU's model instead keeps the pin level of a line that was an
// input when the kernel wrote its initial value (gpio-aspeed writes the value
// before the direction), so an output requested high reads low through QOM
// until it is written again. The latch shows what the kernel requested.
func GPIOLatch(offset int) (addr uint64, bit uint, ok bool) {
	if offset < 0 || offset >= GPIOLines {
		return 0, 0, false
	}
	return gpioLatchBase + 4*uint64(offset/32), uint(offset % 32), true
}

// I2CBus returns QEMU's bus name for the guest's /dev/i2c-N: the ast2600-evb
// device tree enables the i2c-aspeed buses in address order without aliases
// (bus@80 .. bus@800, 10 and 11 disabled), so Linux numbers them like QEMU.
func I2CBus(n int) string { return fmt.Sprintf("aspeed.i2c.bus.%d", n) }

// I2CAdapterName is the Linux adapter name of /dev/i2c-N (the controller at
// 0x1e78a000 has one bus every 0x80 bytes starting at 0x80).
func I2CAdapterName(n int) string { return fmt.Sprintf("%x.i2c-bus", 0x1e78a000+0x80*(n+1)) }
