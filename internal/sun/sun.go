package sun

import (
	"math"
	"time"
)

// zenith is the sun's centre at sunrise/sunset: 90° plus 0.833° for
// atmospheric refraction and the solar disc's radius.
const zenith = 90.833

// Events are one day's sunrise and sunset. When the sun does not rise or
// set that day (polar day or night), OK is false and PolarDay says which.
type Events struct {
	Sunrise, Sunset time.Time
	OK              bool
	PolarDay        bool
}

// On returns sunrise and sunset on the calendar day of date in date's
// location, for latitude lat (degrees north) and longitude lon (degrees
// east). The times are in date's location.
func On(date time.Time, lat, lon float64) Events {
	loc := date.Location()
	y, m, d := date.Date()
	// Start from local noon of that day; refine each event at its own time.
	noon := time.Date(y, m, d, 12, 0, 0, 0, loc)
	var ev Events
	rise, okR, polarDay := event(noon, lat, lon, true)
	set, okS, _ := event(noon, lat, lon, false)
	if !okR || !okS {
		ev.PolarDay = polarDay
		return ev
	}
	for i := 0; i < 2; i++ {
		if r, ok, _ := event(rise, lat, lon, true); ok {
			rise = r
		}
		if s, ok, _ := event(set, lat, lon, false); ok {
			set = s
		}
	}
	ev.Sunrise, ev.Sunset, ev.OK = rise.In(loc), set.In(loc), true
	return ev
}

// event computes sunrise (or sunset) on the UTC day around at, using the
// sun's position at instant at.
func event(at time.Time, lat, lon float64, rise bool) (time.Time, bool, bool) {
	t := julianCentury(at)
	decl, eqTime := position(t)
	latR, declR := rad(lat), rad(decl)
	cosHA := math.Cos(rad(zenith))/(math.Cos(latR)*math.Cos(declR)) - math.Tan(latR)*math.Tan(declR)
	if cosHA < -1 {
		return time.Time{}, false, true // sun never sets
	}
	if cosHA > 1 {
		return time.Time{}, false, false // sun never rises
	}
	ha := deg(math.Acos(cosHA))
	if !rise {
		ha = -ha
	}
	// Minutes after 00:00 UTC of the day of at's local solar noon.
	minutes := 720 - 4*(lon+ha) - eqTime
	day := localSolarDay(at, lon)
	return day.Add(time.Duration(minutes * float64(time.Minute))).Round(time.Second), true, false
}

// localSolarDay returns 00:00 UTC of the day such that 720 - 4*lon minutes
// after it is the solar noon nearest to at.
func localSolarDay(at time.Time, lon float64) time.Time {
	noonOffset := time.Duration((720 - 4*lon) * float64(time.Minute))
	approx := at.UTC().Add(-noonOffset).Add(12 * time.Hour)
	y, m, d := approx.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func julianCentury(at time.Time) float64 {
	jd := float64(at.UTC().UnixNano())/float64(24*time.Hour) + 2440587.5
	return (jd - 2451545) / 36525
}

// position returns the sun's declination (degrees) and the equation of
// time (minutes) at Julian century t.
func position(t float64) (decl, eqTime float64) {
	l0 := math.Mod(280.46646+t*(36000.76983+t*0.0003032), 360)
	m := 357.52911 + t*(35999.05029-0.0001537*t)
	e := 0.016708634 - t*(0.000042037+0.0000001267*t)
	c := math.Sin(rad(m))*(1.914602-t*(0.004817+0.000014*t)) +
		math.Sin(rad(2*m))*(0.019993-0.000101*t) + math.Sin(rad(3*m))*0.000289
	trueLong := l0 + c
	omega := 125.04 - 1934.136*t
	appLong := trueLong - 0.00569 - 0.00478*math.Sin(rad(omega))
	meanObliq := 23 + (26+(21.448-t*(46.815+t*(0.00059-t*0.001813)))/60)/60
	obliq := meanObliq + 0.00256*math.Cos(rad(omega))
	decl = deg(math.Asin(math.Sin(rad(obliq)) * math.Sin(rad(appLong))))
	y := math.Tan(rad(obliq / 2))
	y *= y
	eqTime = 4 * deg(y*math.Sin(2*rad(l0))-2*e*math.Sin(rad(m))+4*e*y*math.Sin(rad(m))*math.Cos(2*rad(l0))-
		0.5*y*y*math.Sin(4*rad(l0))-1.25*e*e*math.Sin(2*rad(m)))
	return decl, eqTime
}

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }
