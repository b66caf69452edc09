package board

import "strconv"

// layout is the physical order of the 40-pin header, identical on every
// supported model: BCM number, or -1 with the power/ground kind.
func layout() [40]struct {
	bcm  int
	kind string
} {
	type e = struct {
		bcm  int
		kind string
	}
	g := func(n int) e { return e{n, KindGPIO} }
	v3 := e{-1, KindPower3}
	v5 := e{-1, KindPower5}
	gnd := e{-1, KindGround}
	return [40]e{
		v3, v5, // 1, 2
		g(2), v5, // 3, 4
		g(3), gnd, // 5, 6
		g(4), g(14), // 7, 8
		gnd, g(15), // 9, 10
		g(17), g(18), // 11, 12
		g(27), gnd, // 13, 14
		g(22), g(23), // 15, 16
		v3, g(24), // 17, 18
		g(10), gnd, // 19, 20
		g(9), g(25), // 21, 22
		g(11), g(8), // 23, 24
		gnd, g(7), // 25, 26
		g(0), g(1), // 27, 28
		g(5), gnd, // 29, 30
		g(6), g(12), // 31, 32
		g(13), gnd, // 33, 34
		g(19), g(16), // 35, 36
		g(26), g(20), // 37, 38
		gnd, g(21), // 39, 40
	}
}

// functions returns the alternate functions of a header GPIO shared by every
// model (PWM is per model, see pwmChannels).
func functions(bcm int) []Function {
	f := func(group, signal string) Function { return Function{group, signal} }
	switch bcm {
	case 0:
		return []Function{f(GroupI2C0, "SDA (ID_SD)")}
	case 1:
		return []Function{f(GroupI2C0, "SCL (ID_SC)")}
	case 2:
		return []Function{f(GroupI2C1, "SDA")}
	case 3:
		return []Function{f(GroupI2C1, "SCL")}
	case 4:
		return []Function{f(GroupGPCLK, "GPCLK0"), f(GroupW1, "DATA")}
	case 5:
		return []Function{f(GroupGPCLK, "GPCLK1")}
	case 6:
		return []Function{f(GroupGPCLK, "GPCLK2")}
	case 7:
		return []Function{f(GroupSPI0, "CE1")}
	case 8:
		return []Function{f(GroupSPI0, "CE0")}
	case 9:
		return []Function{f(GroupSPI0, "MISO")}
	case 10:
		return []Function{f(GroupSPI0, "MOSI")}
	case 11:
		return []Function{f(GroupSPI0, "SCLK")}
	case 14:
		return []Function{f(GroupUART0, "TXD")}
	case 15:
		return []Function{f(GroupUART0, "RXD")}
	case 16:
		return []Function{f(GroupSPI1, "CE2")}
	case 17:
		return []Function{f(GroupSPI1, "CE1")}
	case 18:
		return []Function{f(GroupPCM, "CLK"), f(GroupSPI1, "CE0")}
	case 19:
		return []Function{f(GroupPCM, "FS"), f(GroupSPI1, "MISO")}
	case 20:
		return []Function{f(GroupPCM, "DIN"), f(GroupSPI1, "MOSI")}
	case 21:
		return []Function{f(GroupPCM, "DOUT"), f(GroupSPI1, "SCLK")}
	}
	return nil
}

// pwmChannels maps BCM pins to the sysfs PWM channel of a model.
//
// BCM2835/2837/2711 (Zero … Pi 4): one PWM block with two channels, enabled by
// dtoverlay=pwm or pwm-2chan as /sys/class/pwm/pwmchip0; PWM0 on GPIO12 or
// GPIO18, PWM1 on GPIO13 or GPIO19.
//
// BCM2712 (Pi 5): the header's PWM is RP1's pwm0 with four channels
// (GPIO12/13/18/19 = channel 0/1/2/3); with dtoverlay=pwm-2chan on
// Raspberry Pi OS Bookworm it is /sys/class/pwm/pwmchip2 (pwmchip0 being the
// fan's). Kernels that number it differently are handled with pwm_chip in the
// config.
func pwmChannels(model string) map[int]PWMChannel {
	if model == Pi5 {
		return map[int]PWMChannel{
			12: {2, 0, "PWM0_CHAN0"},
			13: {2, 1, "PWM0_CHAN1"},
			18: {2, 2, "PWM0_CHAN2"},
			19: {2, 3, "PWM0_CHAN3"},
		}
	}
	return map[int]PWMChannel{
		12: {0, 0, "PWM0"},
		13: {0, 1, "PWM1"},
		18: {0, 0, "PWM0"},
		19: {0, 1, "PWM1"},
	}
}

// header builds the header of a canonical model.
func header(model string) Header {
	h := Header{Model: model, ChipLabel: "pinctrl-bcm2835",
		PWMNote: "dtoverlay=pwm-2chan: /sys/class/pwm/pwmchip0, PWM0=channel 0 (GPIO12|18), PWM1=channel 1 (GPIO13|19)"}
	switch model {
	case PiZero:
		h.Title, h.SoC = "Raspberry Pi Zero / Zero W", "BCM2835"
	case PiZero2W:
		h.Title, h.SoC = "Raspberry Pi Zero 2 W", "BCM2710A1 (RP3A0)"
		h.ChipLabel = "pinctrl-bcm2835"
	case Pi3:
		h.Title, h.SoC = "Raspberry Pi 3 Model B / B+ / A+", "BCM2837"
	case Pi4:
		h.Title, h.SoC = "Raspberry Pi 4 Model B / Pi 400", "BCM2711"
		h.ChipLabel = "pinctrl-bcm2711"
	case Pi5:
		h.Title, h.SoC = "Raspberry Pi 5 / Pi 500", "BCM2712 + RP1"
		h.ChipLabel = "pinctrl-rp1"
		h.PWMNote = "dtoverlay=pwm-2chan: RP1 pwm0 = /sys/class/pwm/pwmchip2, channels 0-3 = GPIO12, 13, 18, 19"
	}
	pwm := pwmChannels(model)
	for i, e := range layout() {
		p := Pin{Phys: i + 1, Kind: e.kind, BCM: e.bcm}
		switch e.kind {
		case KindGPIO:
			p.Name = "GPIO" + strconv.Itoa(e.bcm)
			p.Functions = functions(e.bcm)
			if c, ok := pwm[e.bcm]; ok {
				c := c
				p.PWM = &c
				p.Functions = append(p.Functions, Function{GroupPWM, c.Name})
			}
		case KindPower3:
			p.Name = "3V3"
		case KindPower5:
			p.Name = "5V"
		case KindGround:
			p.Name = "GND"
		}
		h.Pins = append(h.Pins, p)
	}
	return h
}
