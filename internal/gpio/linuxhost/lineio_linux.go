package linuxhost

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// The kernel's GPIO v2 character-device ABI (include/uapi/linux/gpio.h),
// used to request an output already at its initial level: periph's
// GPIOLine.Out requests the line first and sets the value afterwards, which
// glitches an output that must start high (an active-low relay board).
const (
	gpioMaxNameSize    = 32
	gpioV2LinesMax     = 64
	gpioV2NumAttrsMax  = 10
	gpioV2FlagOutput   = 1 << 3
	gpioV2AttrIDValues = 2

	iocWrite = 1
	iocRead  = 2
)

type gpioV2LineAttribute struct {
	id      uint32
	padding uint32
	value   uint64 // flags / values / debounce, by id
}

type gpioV2LineConfigAttribute struct {
	attr gpioV2LineAttribute
	mask uint64
}

type gpioV2LineConfig struct {
	flags    uint64
	numAttrs uint32
	padding  [5]uint32
	attrs    [gpioV2NumAttrsMax]gpioV2LineConfigAttribute
}

type gpioV2LineRequest struct {
	offsets         [gpioV2LinesMax]uint32
	consumer        [gpioMaxNameSize]byte
	config          gpioV2LineConfig
	numLines        uint32
	eventBufferSize uint32
	padding         [5]uint32
	fd              int32
}

type gpioV2LineValues struct {
	bits uint64
	mask uint64
}

// iowr is _IOWR(0xB4, nr, size) for arm, arm64 and amd64.
func iowr(nr, size uintptr) uintptr {
	return (iocRead|iocWrite)<<30 | size<<16 | 0xB4<<8 | nr
}

var (
	_ = [1]struct{}{}[unsafe.Sizeof(gpioV2LineRequest{})-592] // ABI size check
	_ = [1]struct{}{}[unsafe.Sizeof(gpioV2LineValues{})-16]
)

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// rawOutput is one line requested as an output.
type rawOutput struct {
	f *os.File // the line request fd
}

// requestOutput requests offset on the chip at chipPath as an output driven
// at initial from the first instant.
func requestOutput(chipPath string, offset int, initial bool, consumer string) (*rawOutput, error) {
	chip, err := os.OpenFile(chipPath, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer chip.Close()
	var req gpioV2LineRequest
	req.offsets[0] = uint32(offset)
	req.numLines = 1
	copy(req.consumer[:gpioMaxNameSize-1], consumer)
	req.config.flags = gpioV2FlagOutput
	req.config.numAttrs = 1
	req.config.attrs[0].attr.id = gpioV2AttrIDValues
	if initial {
		req.config.attrs[0].attr.value = 1
	}
	req.config.attrs[0].mask = 1
	if err := ioctl(chip.Fd(), iowr(0x07, unsafe.Sizeof(req)), unsafe.Pointer(&req)); err != nil {
		return nil, fmt.Errorf("GPIO_V2_GET_LINE %s:%d: %w", chipPath, offset, err)
	}
	return &rawOutput{f: os.NewFile(uintptr(req.fd), fmt.Sprintf("%s:%d", chipPath, offset))}, nil
}

func (o *rawOutput) set(level bool) error {
	v := gpioV2LineValues{mask: 1}
	if level {
		v.bits = 1
	}
	if err := ioctl(o.f.Fd(), iowr(0x0F, unsafe.Sizeof(v)), unsafe.Pointer(&v)); err != nil {
		return fmt.Errorf("GPIO_V2_LINE_SET_VALUES %s: %w", o.f.Name(), err)
	}
	return nil
}

func (o *rawOutput) close() error { return o.f.Close() }
