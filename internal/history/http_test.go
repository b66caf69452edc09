package history

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// httpRig serves a store with a day of air_temp every 2 s (values
// sample(i)) behind a member check accepting "hub-tok" and "viewer-tok".
func httpRig(t testing.TB) (*httptest.Server, time.Time) {
	t.Helper()
	end := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	clock := end.Add(-24 * time.Hour)
	now := func() time.Time { return clock }
	s, err := Open(Options{Now: now, Fields: map[string]Policy{"air_temp": {Raw: DefaultRaw, Minute: DefaultMinute, Quarter: DefaultQuarter, Unit: "°C"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; clock.Before(end); i++ {
		clock = clock.Add(2 * time.Second)
		s.Add("air_temp", clock, sample(i))
		if i%150 == 0 {
			_ = s.Flush()
		}
	}
	_ = s.Flush()
	srv := httptest.NewServer(Handler(HTTPOptions{Store: s, Now: now, Member: func(tok string) bool { return tok == "hub-tok" || tok == "viewer-tok" }}))
	t.Cleanup(srv.Close)
	return srv, end
}

func get(t testing.TB, srv *httptest.Server, query, auth string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+Path+"?"+query, nil)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

type apiAnswer struct {
	Field  string      `json:"field"`
	Unit   string      `json:"unit"`
	Tier   string      `json:"tier"`
	StepMs int64       `json:"step_ms"`
	Points [][]float64 `json:"points"`
}

func TestHistoryAPI(t *testing.T) {
	srv, end := httpRig(t)
	for _, tc := range []struct {
		query, auth string
		code        int
		body        string
	}{
		{"field=air_temp", "", 401, "member token is required"},
		{"field=air_temp", "wrong", 403, "not a member"},
		{"field=nope", "hub-tok", 404, `no history for field \"nope\"`},
		{"", "hub-tok", 400, "field is required"},
		{"field=air_temp&since=soon", "hub-tok", 400, "since"},
		{"field=air_temp&since=xd", "hub-tok", 400, "since"},
		{"field=air_temp&from=yesterday", "hub-tok", 400, "RFC 3339"},
		{"field=air_temp&since=1h&from=2026-12-04T01:00:00Z", "hub-tok", 400, "not both"},
		{"field=air_temp&step=1ms", "hub-tok", 400, "step"},
		{"field=air_temp&format=xml", "hub-tok", 400, "format"},
	} {
		code, body, _ := get(t, srv, tc.query, tc.auth)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%q (token %q): %d %s, want %d %q", tc.query, tc.auth, code, body, tc.code, tc.body)
		}
	}
	// ?token= works as well as the header; a viewer token reads history.
	code, body, hdr := get(t, srv, "field=air_temp&since=1h&token=viewer-tok", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", code, body)
	}
	var a apiAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if a.Field != "air_temp" || a.Unit != "°C" || a.Tier != "raw" || len(a.Points) != 1801 { // from and to inclusive
		t.Fatalf("1h: %s %s %s %d points", a.Field, a.Unit, a.Tier, len(a.Points))
	}
	last := a.Points[len(a.Points)-1]
	if int64(last[0]) != end.UnixMilli() || len(last) != 2 || last[1] != sample(43199) {
		t.Fatalf("last point %v, want [%d %v]", last, end.UnixMilli(), sample(43199))
	}
	// A day raw, and aggregated by 15 minutes.
	_, body, _ = get(t, srv, "field=air_temp&since=24h", "hub-tok")
	a = apiAnswer{}
	_ = json.Unmarshal([]byte(body), &a)
	if len(a.Points) < 43199 {
		t.Fatalf("24h raw: %d points", len(a.Points))
	}
	_, body, _ = get(t, srv, "field=air_temp&since=1d&step=15m", "hub-tok")
	a = apiAnswer{}
	_ = json.Unmarshal([]byte(body), &a)
	if a.StepMs != 900_000 || len(a.Points) < 96 || len(a.Points) > 97 || len(a.Points[0]) != 4 {
		t.Fatalf("step: %d ms, %d points, %v", a.StepMs, len(a.Points), a.Points[:1])
	}
	for _, p := range a.Points {
		if !(p[2] <= p[1] && p[1] <= p[3]) || p[2] < 20 || p[3] > 29.9 {
			t.Fatalf("bucket %v: want min <= avg <= max within 20..29.9", p)
		}
	}
	// from/to and CSV.
	q := url.Values{"field": {"air_temp"}, "from": {"2026-12-04T02:00:00Z"}, "to": {"2026-12-04T02:01:00Z"}, "format": {"csv"}}
	code, body, hdr = get(t, srv, q.Encode(), "hub-tok")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 32 || strings.Join(rows[0], ",") != "time,value" {
		t.Fatalf("csv: %d rows %v %v", len(rows), rows[:1], err)
	}
	if rows[1][0] != "2026-12-04T02:00:00.000Z" || rows[31][0] != "2026-12-04T02:01:00.000Z" {
		t.Fatalf("csv times %s .. %s", rows[1][0], rows[31][0])
	}
	q.Set("step", "1m")
	_, body, _ = get(t, srv, q.Encode(), "hub-tok")
	if !strings.HasPrefix(body, "time,avg,min,max\n2026-12-04T02:00:00.000Z,") {
		t.Fatalf("csv with step: %s", body)
	}
}

func TestHistoryAPIOpenBox(t *testing.T) {
	s, _ := Open(Options{})
	s.Declare("x", "V")
	srv := httptest.NewServer(Handler(HTTPOptions{Store: s}))
	defer srv.Close()
	code, body, _ := get(t, srv, "field=x", "")
	if code != 200 || body != `{"field":"x","unit":"V","tier":"raw","points":[]}`+"\n" {
		t.Fatalf("%d %q", code, body)
	}
}

// BenchmarkHistoryAPI24hRaw measures GET /api/history for a day of raw
// points (43,200 at 2 s) over loopback HTTP (about 0.9 MB of JSON).
func BenchmarkHistoryAPI24hRaw(b *testing.B) {
	srv, _ := httpRig(b)
	b.ResetTimer()
	for range b.N {
		code, body, _ := get(b, srv, "field=air_temp&since=24h", "hub-tok")
		if code != 200 {
			b.Fatal(code)
		}
		b.SetBytes(int64(len(body)))
	}
}
