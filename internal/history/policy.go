package history

import "time"

// Tier widths: raw points, then one-minute and fifteen-minute rollups.
const (
	Minute  = time.Minute
	Quarter = 15 * time.Minute
)

// Defaults.
const (
	DefaultRaw           = 24 * time.Hour
	DefaultMinute        = 7 * 24 * time.Hour
	DefaultQuarter       = 365 * 24 * time.Hour
	DefaultFlushInterval = 5 * time.Minute
	// DefaultSigDigits is how many significant digits a reading keeps
	// (about float32's precision).
	DefaultSigDigits = 6
	// DefaultMaxRawPoints bounds one series' raw tier in memory (a day at
	// one reading a second); older raw points are dropped first.
	DefaultMaxRawPoints = 86400
	// DefaultMaxSeries bounds how many series a Store keeps.
	DefaultMaxSeries = 256
)

// Policy is how long one series is kept at each resolution. A zero
// duration disables that tier; Disabled turns the series off entirely.
type Policy struct {
	Disabled bool
	Raw      time.Duration // raw points (default 24h)
	Minute   time.Duration // one-minute min/avg/max (default 7 days)
	Quarter  time.Duration // fifteen-minute min/avg/max (default 365 days)
	// Resolution rounds readings to a multiple of it (0 = SigDigits
	// significant digits).
	Resolution float64
	Unit       string
}

// DefaultPolicy is the policy of a series nothing else is said about.
func DefaultPolicy() Policy {
	return Policy{Raw: DefaultRaw, Minute: DefaultMinute, Quarter: DefaultQuarter}
}

// keep returns the retention of tier i (0 raw, 1 minute, 2 quarter).
func (p Policy) keep(i int) time.Duration {
	switch i {
	case 0:
		return p.Raw
	case 1:
		return p.Minute
	default:
		return p.Quarter
	}
}

// width returns the bucket width of rollup tier i (0 for raw).
func width(i int) int64 {
	switch i {
	case 1:
		return Minute.Milliseconds()
	case 2:
		return Quarter.Milliseconds()
	}
	return 0
}

// tierName names tier i in files and metrics.
func tierName(i int) string {
	switch i {
	case 1:
		return "1m"
	case 2:
		return "15m"
	}
	return "raw"
}

// tiers is the number of tiers.
const tiers = 3
