package automation

import (
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Next returns each schedule automation's (at, cron, sunrise, sunset) next
// occurrence after now in loc (nil loc: time.Local); a zero time when there
// is none within a year (polar day or night). meshbox check prints them.
func Next(cfg *config.Config, now time.Time, loc *time.Location) map[string]time.Time {
	if loc == nil {
		loc = time.Local
	}
	s, err := newState(&Engine{loc: loc}, cfg, nil)
	if err != nil {
		return nil
	}
	out := map[string]time.Time{}
	for _, r := range s.rules {
		if r.isSchedule() {
			out[r.cfg.ID] = s.nextAfter(r, now)
		}
	}
	return out
}
