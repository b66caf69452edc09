package config

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Assignments maps each header BCM pin the config uses to a short
// description ("output lamp", "i2c climate"), for board.Header.Render.
func (c *Config) Assignments() map[int]string {
	m := map[int]string{}
	add := func(bcm int, s string) {
		if bcm < 0 {
			return
		}
		if prev, ok := m[bcm]; ok {
			kind, name, _ := strings.Cut(s, " ")
			if strings.HasPrefix(prev, kind+" ") {
				s = prev + ", " + name // "i2c air, soil"
			} else {
				s = prev + ", " + s
			}
		}
		m[bcm] = s
	}
	for _, o := range c.Outputs {
		if o.Pin.Chip == "" {
			add(o.Pin.BCM, o.Kind+" "+o.ID)
		}
	}
	for _, in := range c.Inputs {
		if in.Pin.Chip == "" {
			add(in.Pin.BCM, "input "+in.ID)
		}
	}
	drivers := Drivers()
	for _, s := range c.Sensors {
		d := drivers[s.Driver]
		switch {
		case d.I2C && s.Bus == "1":
			add(2, "i2c "+s.ID)
			add(3, "i2c "+s.ID)
		case d.Name == DriverDS18B20:
			add(4, "1-wire "+s.ID)
		}
	}
	for _, sd := range c.Serial {
		if uartPorts()[sd.Port] {
			add(14, "uart "+sd.ID)
			add(15, "uart "+sd.ID)
		}
	}
	return m
}

// WriteWiring prints the resolved configuration as meshbox check shows it:
// the identity, then one table row per output, input, sensor and serial
// device with every default filled in, then the interlocks.
func (c *Config) WriteWiring(w io.Writer) error {
	var b strings.Builder
	src := c.Path
	if src == "" {
		src = "built-in demo"
	}
	fmt.Fprintf(&b, "config   %s\n", src)
	fmt.Fprintf(&b, "member   %s on channel %s (listen %s, state %s)\n", c.Name, c.Channel, c.Listen, c.StateDir)
	fmt.Fprintf(&b, "board    %s (pins resolved for %s)\n", c.Board, c.BoardModel)
	auth := "token"
	switch {
	case c.Auth == "none":
		auth = "none (open relay)"
	case c.Token != "":
		auth = "token (from config)"
	default:
		auth = "token (MESH_AUTH_TOKEN or generated in state dir)"
	}
	fmt.Fprintf(&b, "auth     %s\n", auth)
	if c.E2EE {
		fmt.Fprintf(&b, "e2ee     on: room key in %s (grp v2)\n", filepath.Join(c.StateDir, "e2ee.key"))
	}
	fmt.Fprintf(&b, "limits   %g changes/s per output; pairing window %s\n", c.ActuationRate, fmtDur(c.Pairing.Window))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nID\tKIND\tPIN / BUS\tDETAILS")
	for _, o := range c.Outputs {
		d := []string{fmt.Sprintf("active-%s", level(o.ActiveLow)), "boot " + o.Boot, "exit " + o.Exit}
		switch o.Kind {
		case KindPWM:
			d = append(d, fmt.Sprintf("%g Hz", o.Frequency), fmt.Sprintf("pwmchip%d/%d", o.PWMChip, o.PWMChannel))
		case KindMomentary:
			d = append(d, "pulse "+fmtDur(o.Pulse))
		}
		if o.MaxOn > 0 {
			d = append(d, "max-on "+fmtDur(o.MaxOn))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ID, o.Kind, o.Pin, strings.Join(d, ", "))
	}
	for _, in := range c.Inputs {
		d := []string{fmt.Sprintf("active-%s", level(in.ActiveLow)), "pull " + in.Pull, "debounce " + fmtDur(in.Debounce), "broadcast " + in.Broadcast}
		if in.Pairing {
			d = append(d, "pairing button")
		}
		fmt.Fprintf(tw, "%s\tinput\t%s\t%s\n", in.ID, in.Pin, strings.Join(d, ", "))
	}
	drivers := Drivers()
	for _, s := range c.Sensors {
		where := s.Path
		if drivers[s.Driver].I2C {
			where = fmt.Sprintf("i2c-%s 0x%02x", s.Bus, s.Address)
		} else if where == "" {
			where = "auto"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tevery %s, %s\n", s.ID, s.Driver, where, fmtDur(s.Interval), metricList(s))
	}
	for _, sd := range c.Serial {
		d := []string{fmt.Sprintf("%d baud", sd.Baud), "framing " + sd.Framing}
		if len(sd.Commands) > 0 {
			names := make([]string, 0, len(sd.Commands))
			for k := range sd.Commands {
				names = append(names, k)
			}
			sort.Strings(names)
			d = append(d, "commands "+strings.Join(names, " "))
		}
		fmt.Fprintf(tw, "%s\tserial\t%s\t%s\n", sd.ID, sd.Port, strings.Join(d, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, il := range c.Interlocks {
		fmt.Fprintf(&b, "\ninterlock %s: at most one of %s on, dead time %s", il.ID, strings.Join(il.Outputs, ", "), fmtDur(il.DeadTime))
	}
	if len(c.Interlocks) > 0 {
		b.WriteString("\n")
	}
	c.writeLogic(&b)
	if c.MQTT != nil {
		fmt.Fprintf(&b, "\nmqtt     %s (topic %s)\n", redactURL(c.MQTT.URL), c.MQTT.BaseTopic)
	}
	if c.Upstream != nil {
		fmt.Fprintf(&b, "\nupstream %s as %s on %s\n", redactURL(c.Upstream.URL), c.Upstream.Name, c.Upstream.Channel)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func level(low bool) string {
	if low {
		return "low"
	}
	return "high"
}

func metricList(s Sensor) string {
	if len(s.Fields) == 0 {
		return "metrics " + s.ID + "_*"
	}
	n := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		n[i] = f.Name
		if f.Unit != "" {
			n[i] += " [" + f.Unit + "]"
		}
		if len(f.Filters) > 0 {
			n[i] += " (" + filterList(f.Filters) + ")"
		}
	}
	return "metrics " + strings.Join(n, ", ")
}

// redactURL hides a password in a URL.
func redactURL(raw string) string {
	i := strings.Index(raw, "://")
	j := strings.LastIndexByte(raw, '@')
	if i < 0 || j < i {
		return raw
	}
	return raw[:i+3] + "***" + raw[j:]
}

// fmtDur prints a duration without trailing zero units: "10m", "2h30m", "500ms".
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
