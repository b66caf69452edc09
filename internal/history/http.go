package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions configure Handler.
type HTTPOptions struct {
	Store *Store
	// Member reports whether token is a member token of the box (hub,
	// controller or viewer: any member may read history). nil = an open
	// box: no token needed.
	Member func(token string) bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Path is where Handler is mounted.
const Path = "/api/history"

// DefaultSince is the range of a query without since, from or to.
const DefaultSince = 24 * time.Hour

// Handler serves GET /api/history:
//
//	?field=F            the series (required; 404 if unknown)
//	&since=DURATION     the last DURATION (default 24h), or
//	&from=T&to=T        an RFC 3339 range (to defaults to now)
//	&step=DURATION      aggregate into buckets: [unix_ms, avg, min, max]
//	&format=csv         a header line and ISO-8601 times instead of JSON
//
// The member token goes in "Authorization: Bearer TOKEN" or ?token=;
// 401 without one, 403 with a wrong one.
func Handler(o HTTPOptions) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		if o.Member != nil {
			tok := bearer(r)
			if tok == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox"`)
				httpError(w, http.StatusUnauthorized, "a member token is required (Authorization: Bearer TOKEN or ?token=)")
				return
			}
			if !o.Member(tok) {
				httpError(w, http.StatusForbidden, "this token is not a member of the box")
				return
			}
		}
		q, err := parseQuery(r, o.Now())
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		res, err := o.Store.Query(q.field, q.from, q.to, q.step)
		switch {
		case errors.Is(err, ErrUnknown):
			httpError(w, http.StatusNotFound, fmt.Sprintf("no history for field %q", q.field))
			return
		case err != nil:
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		if q.csv {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", q.field+".csv"))
			_, _ = w.Write(appendCSV(nil, res))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(AppendJSON(nil, res))
	})
}

type query struct {
	field    string
	from, to time.Time
	step     time.Duration
	csv      bool
}

func parseQuery(r *http.Request, now time.Time) (query, error) {
	v := r.URL.Query()
	q := query{field: v.Get("field"), to: now}
	if q.field == "" {
		return q, errors.New("field is required (?field=air_temp)")
	}
	switch f := v.Get("format"); f {
	case "", "json":
	case "csv":
		q.csv = true
	default:
		return q, fmt.Errorf("format %q is not json or csv", f)
	}
	if s := v.Get("step"); s != "" {
		d, err := parseDuration(s)
		if err != nil || d < time.Second {
			return q, fmt.Errorf("step %q is not a duration of at least 1s (e.g. 5m)", s)
		}
		q.step = d
	}
	since, from, to := v.Get("since"), v.Get("from"), v.Get("to")
	if since != "" && (from != "" || to != "") {
		return q, errors.New("use since or from/to, not both")
	}
	if to != "" {
		t, err := time.Parse(time.RFC3339, to)
		if err != nil {
			return q, fmt.Errorf("to %q is not an RFC 3339 time (2026-12-04T03:00:00Z)", to)
		}
		q.to = t
	}
	switch {
	case from != "":
		t, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return q, fmt.Errorf("from %q is not an RFC 3339 time (2026-12-04T03:00:00Z)", from)
		}
		q.from = t
	case since != "":
		d, err := parseDuration(since)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("since %q is not a positive duration (e.g. 24h)", since)
		}
		q.from = q.to.Add(-d)
	default:
		q.from = q.to.Add(-DefaultSince)
	}
	if q.from.After(q.to) {
		return q, errors.New("from is after to")
	}
	return q, nil
}

// parseDuration is time.ParseDuration, plus whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get("token")
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(append(b, '\n'))
}

// AppendJSON appends res as {"field","unit","tier","step_ms"?,"points"}:
// points are [unix_ms, value], or with a step [unix_ms, avg, min, max].
func AppendJSON(b []byte, res Result) []byte {
	field, _ := json.Marshal(res.Field)
	unit, _ := json.Marshal(res.Unit)
	b = append(b, `{"field":`...)
	b = append(b, field...)
	b = append(b, `,"unit":`...)
	b = append(b, unit...)
	b = append(b, `,"tier":"`...)
	b = append(b, res.Tier...)
	b = append(b, '"')
	if res.Step > 0 {
		b = append(b, `,"step_ms":`...)
		b = strconv.AppendInt(b, res.Step.Milliseconds(), 10)
	}
	b = append(b, `,"points":[`...)
	for i, t := range res.Times {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, t, 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, res.Avg[i], 'g', -1, 64)
		if res.Min != nil {
			b = append(b, ',')
			b = strconv.AppendFloat(b, res.Min[i], 'g', -1, 64)
			b = append(b, ',')
			b = strconv.AppendFloat(b, res.Max[i], 'g', -1, 64)
		}
		b = append(b, ']')
	}
	return append(b, "]}\n"...)
}

// isoMs is ISO-8601 / RFC 3339 UTC with milliseconds.
const isoMs = "2006-01-02T15:04:05.000Z07:00"

func appendCSV(b []byte, res Result) []byte {
	if res.Min != nil {
		b = append(b, "time,avg,min,max\n"...)
	} else {
		b = append(b, "time,value\n"...)
	}
	for i, t := range res.Times {
		b = time.UnixMilli(t).UTC().AppendFormat(b, isoMs)
		b = append(b, ',')
		b = strconv.AppendFloat(b, res.Avg[i], 'g', -1, 64)
		if res.Min != nil {
			b = append(b, ',')
			b = strconv.AppendFloat(b, res.Min[i], 'g', -1, 64)
			b = append(b, ',')
			b = strconv.AppendFloat(b, res.Max[i], 'g', -1, 64)
		}
		b = append(b, '\n')
	}
	return b
}
