package sun

import (
	"testing"
	"time"
)

// frac turns a fraction of a day (the NOAA spreadsheet's time format) into
// a time on y-m-d in a fixed zone of offset hours.
func frac(y int, m time.Month, d int, offset int, f float64) time.Time {
	loc := time.FixedZone("", offset*3600)
	return time.Date(y, m, d, 0, 0, 0, 0, loc).Add(time.Duration(f * float64(24*time.Hour)))
}

// TestNOAAValues compares with NOAA's solar calculation spreadsheet
// (NOAA_Solar_Calculations_day.xls from gml.noaa.gov/grad/solcalc/
// calcdetails.html): its solar noon, sunset and sunlight duration columns,
// sunrise being noon minus half the duration. Within a minute.
func TestNOAAValues(t *testing.T) {
	cases := []struct {
		name              string
		lat, lon          float64
		y                 int
		m                 time.Month
		d, tz             int
		noon, set, length float64
	}{
		{"Nuremberg summer", 49.734839, 11.156555, 2024, time.July, 15, 2, 0.556550386, 0.887454915, 953.0050422},
		{"Nuremberg winter", 49.734839, 11.156555, 2024, time.January, 15, 1, 0.517085349, 0.695823468, 514.7657826},
		{"Quito spring equinox", 0, -78.4678, 2024, time.March, 20, -5, 0.514695764, 0.767009661, 726.6640219},
		{"Quito autumn equinox", 0, -78.4678, 2024, time.September, 23, -5, 0.504227226, 0.756541166, 726.664146},
		{"Arctic Circle winter solstice", 66.5622, 0, 2024, time.December, 21, 0, 0.498834705, 0.543889106, 129.7566742},
	}
	for _, c := range cases {
		loc := time.FixedZone(c.name, c.tz*3600)
		ev := On(time.Date(c.y, c.m, c.d, 9, 0, 0, 0, loc), c.lat, c.lon)
		if !ev.OK {
			t.Fatalf("%s: no sunrise/sunset", c.name)
		}
		wantSet := frac(c.y, c.m, c.d, c.tz, c.set)
		wantRise := frac(c.y, c.m, c.d, c.tz, c.noon-c.length/2/1440)
		if d := ev.Sunset.Sub(wantSet).Abs(); d > time.Minute {
			t.Errorf("%s: sunset %s, NOAA %s (off by %s)", c.name, ev.Sunset.Format(time.TimeOnly), wantSet.Format(time.TimeOnly), d)
		}
		if d := ev.Sunrise.Sub(wantRise).Abs(); d > time.Minute {
			t.Errorf("%s: sunrise %s, NOAA %s (off by %s)", c.name, ev.Sunrise.Format(time.TimeOnly), wantRise.Format(time.TimeOnly), d)
		}
		if ev.Sunrise.Location() != loc || ev.Sunrise.Day() != c.d || ev.Sunset.Day() != c.d {
			t.Errorf("%s: events not on the local day: %s %s", c.name, ev.Sunrise, ev.Sunset)
		}
	}
}

func TestPolar(t *testing.T) {
	summer := time.Date(2024, time.June, 21, 12, 0, 0, 0, time.UTC)
	winter := time.Date(2024, time.December, 21, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		lat      float64
		at       time.Time
		polarDay bool
	}{{90, summer, true}, {90, winter, false}, {-90, summer, false}, {-90, winter, true}, {78.2, summer, true}} {
		ev := On(c.at, c.lat, 15)
		if ev.OK || ev.PolarDay != c.polarDay {
			t.Errorf("lat %g on %s: %+v, want no events, polar day %v", c.lat, c.at.Format(time.DateOnly), ev, c.polarDay)
		}
	}
}

// TestFarLongitudes: places far from Greenwich get the events of their own
// local day, with the system's zone.
func TestFarLongitudes(t *testing.T) {
	for _, c := range []struct {
		zone     string
		lat, lon float64
	}{{"Australia/Sydney", -33.87, 151.21}, {"Pacific/Honolulu", 21.31, -157.86}, {"America/Los_Angeles", 37.32, -122.03}, {"Europe/London", 51.5, -0.13}} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Skipf("no tzdata: %v", err)
		}
		for _, d := range []int{1, 100, 200, 300} {
			day := time.Date(2025, time.January, d, 3, 0, 0, 0, loc)
			ev := On(day, c.lat, c.lon)
			if !ev.OK {
				t.Fatalf("%s day %d: no events", c.zone, d)
			}
			if ev.Sunrise.YearDay() != day.YearDay() || ev.Sunset.YearDay() != day.YearDay() || !ev.Sunrise.Before(ev.Sunset) {
				t.Errorf("%s %s: rise %s set %s", c.zone, day.Format(time.DateOnly), ev.Sunrise, ev.Sunset)
			}
			if h := ev.Sunrise.Hour(); h < 4 || h > 9 {
				t.Errorf("%s %s: sunrise at %s", c.zone, day.Format(time.DateOnly), ev.Sunrise)
			}
		}
	}
}

// TestCupertino: another published value (2024-01-01, 37.323 N 122.032 W:
// sunrise 07:22:13, sunset 17:00:33 PST).
func TestCupertino(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	ev := On(time.Date(2024, 1, 1, 0, 0, 0, 0, pst), 37.3229978, -122.0321823)
	for _, c := range []struct {
		got, want time.Time
	}{{ev.Sunrise, time.Date(2024, 1, 1, 7, 22, 13, 0, pst)}, {ev.Sunset, time.Date(2024, 1, 1, 17, 0, 33, 0, pst)}} {
		if d := c.got.Sub(c.want).Abs(); d > time.Minute {
			t.Errorf("got %s want %s", c.got, c.want)
		}
	}
}
