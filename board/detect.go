package board

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnknownBoard is returned when the text names no supported 40-pin model.
var ErrUnknownBoard = errors.New("board not recognised")

// Revision is a decoded new-style Raspberry Pi revision code (the
// "Revision" line of /proc/cpuinfo).
type Revision struct {
	Code      uint32
	Type      int    // board type field (0x11 = 4B, 0x17 = 5, ...)
	TypeName  string // "4B", "Zero 2 W", ...
	Model     string // canonical model name, "" when not supported
	MemoryMB  int
	Revision  int // PCB revision (1.<Revision>)
	Processor string
	Maker     string
}

// revisionTypes maps the type field of new-style codes to names and the
// canonical model whose header applies.
func revisionTypes() map[int][2]string {
	return map[int][2]string{
		0x00: {"A", ""}, 0x01: {"B", ""}, 0x02: {"A+", ""}, 0x03: {"B+", ""},
		0x04: {"2B", ""}, 0x06: {"CM1", ""},
		0x08: {"3B", Pi3}, 0x09: {"Zero", PiZero}, 0x0a: {"CM3", ""},
		0x0c: {"Zero W", PiZero}, 0x0d: {"3B+", Pi3}, 0x0e: {"3A+", Pi3},
		0x10: {"CM3+", ""}, 0x11: {"4B", Pi4}, 0x12: {"Zero 2 W", PiZero2W},
		0x13: {"400", Pi4}, 0x14: {"CM4", ""}, 0x15: {"CM4S", ""},
		0x17: {"5", Pi5}, 0x18: {"CM5", ""}, 0x19: {"500", Pi5}, 0x1a: {"CM5 Lite", ""},
	}
}

// ParseRevision decodes a revision code such as "c03111" or "0xd04170".
// Old-style codes (Pi 1 era, bit 23 clear) are rejected.
func ParseRevision(code string) (Revision, error) {
	s := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(code)), "0x")
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || s == "" {
		return Revision{}, fmt.Errorf("revision %q: not a hex code", code)
	}
	r := Revision{Code: uint32(v)}
	if v&(1<<23) == 0 {
		return r, fmt.Errorf("revision %q: old-style code (original Pi 1): %w", code, ErrUnknownBoard)
	}
	r.Revision = int(v & 0xf)
	r.Type = int(v>>4) & 0xff
	proc := int(v>>12) & 0xf
	maker := int(v>>16) & 0xf
	r.MemoryMB = 256 << (int(v>>20) & 0x7)
	r.Processor = [...]string{"BCM2835", "BCM2836", "BCM2837", "BCM2711", "BCM2712", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?"}[proc]
	r.Maker = [...]string{"Sony UK", "Egoman", "Embest", "Sony Japan", "Embest", "Stadium", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?"}[maker]
	t, ok := revisionTypes()[r.Type]
	if !ok {
		return r, fmt.Errorf("revision %q: unknown board type 0x%x: %w", code, r.Type, ErrUnknownBoard)
	}
	r.TypeName, r.Model = t[0], t[1]
	if r.Model == "" {
		return r, fmt.Errorf("revision %q: Raspberry Pi %s has no supported 40-pin header: %w", code, r.TypeName, ErrUnknownBoard)
	}
	return r, nil
}

// DetectCPUInfo finds the model from the contents of /proc/cpuinfo (its
// "Revision" line).
func DetectCPUInfo(cpuinfo []byte) (Revision, error) {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "Revision" {
			return ParseRevision(v)
		}
	}
	return Revision{}, fmt.Errorf("cpuinfo: no Revision line: %w", ErrUnknownBoard)
}

// DetectModel finds the model from the text of /proc/device-tree/model
// ("Raspberry Pi 4 Model B Rev 1.4\x00").
func DetectModel(model []byte) (string, error) {
	s := strings.TrimSpace(strings.TrimRight(string(model), "\x00\n"))
	l := strings.ToLower(s)
	rest, ok := strings.CutPrefix(l, "raspberry pi ")
	if !ok {
		return "", fmt.Errorf("model %q: not a Raspberry Pi: %w", s, ErrUnknownBoard)
	}
	switch {
	case strings.HasPrefix(rest, "zero 2"):
		return PiZero2W, nil
	case strings.HasPrefix(rest, "zero"):
		return PiZero, nil
	case strings.HasPrefix(rest, "3 "):
		return Pi3, nil
	case strings.HasPrefix(rest, "4 "), strings.HasPrefix(rest, "400"):
		return Pi4, nil
	case strings.HasPrefix(rest, "5 "), strings.HasPrefix(rest, "500"):
		return Pi5, nil
	}
	return "", fmt.Errorf("model %q: no supported 40-pin header: %w", s, ErrUnknownBoard)
}

// Detect combines both sources: the device-tree model text first, then the
// cpuinfo revision. Either may be nil.
func Detect(dtModel, cpuinfo []byte) (string, error) {
	var errs []error
	if len(dtModel) > 0 {
		m, err := DetectModel(dtModel)
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
	}
	if len(cpuinfo) > 0 {
		r, err := DetectCPUInfo(cpuinfo)
		if err == nil {
			return r.Model, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("no device-tree model or cpuinfo: %w", ErrUnknownBoard)
	}
	return "", errors.Join(errs...)
}

// DetectFS runs Detect on the files a Linux host exposes, read through
// readFile (a gpio.Host's ReadFile, or os.ReadFile). Missing files are fine.
func DetectFS(readFile func(path string) ([]byte, error)) (string, error) {
	dt, _ := readFile("/proc/device-tree/model")
	ci, _ := readFile("/proc/cpuinfo")
	return Detect(dt, ci)
}
