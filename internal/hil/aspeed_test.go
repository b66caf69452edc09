package hil

import "testing"

func TestGPIOName(t *testing.T) {
	for off, want := range map[int]string{
		0: "gpioA0", 1: "gpioA1", 7: "gpioA7", 8: "gpioB0", 17: "gpioC1",
		207: "gpioZ7", 208: "gpioAA0", 217: "gpioAB1",
	} {
		if got := GPIOName(off); got != want {
			t.Errorf("GPIOName(%d) = %q, want %q", off, got, want)
		}
	}
	for off, want := range map[int][2]uint64{0: {0x1e7800c0, 0}, 40: {0x1e7800c4, 8}, 43: {0x1e7800c4, 11}, 207: {0x1e7800d8, 15}} {
		addr, bit, ok := GPIOLatch(off)
		if !ok || addr != want[0] || uint64(bit) != want[1] {
			t.Errorf("GPIOLatch(%d) = %#x, %d, %v; want %#x, %d", off, addr, bit, ok, want[0], want[1])
		}
	}
	if _, _, ok := GPIOLatch(GPIOLines); ok {
		t.Errorf("GPIOLatch(%d) ok, want out of range", GPIOLines)
	}
	if got := I2CBus(3); got != "aspeed.i2c.bus.3" {
		t.Errorf("I2CBus(3) = %q", got)
	}
	for n, want := range map[int]string{0: "1e78a080.i2c-bus", 3: "1e78a200.i2c-bus", 15: "1e78a800.i2c-bus"} {
		if got := I2CAdapterName(n); got != want {
			t.Errorf("I2CAdapterName(%d) = %q, want %q", n, got, want)
		}
	}
}
