package box

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// benchConfig: the measured output (lamp) and the flooded one (pump).
const benchConfig = `
name: meshbox
actuation_rate: 1000
outputs:
  - id: lamp
    pin: 17
  - id: pump
    pin: 27
`

// BenchmarkCmdToState measures phone cmd → pin → state: a phone switches
// lamp and waits for its state broadcast (the pin has moved by then) over a
// real loopback WebSocket, while a second phone floods cmds for pump at 40
// frames/s. It reports the p50 and p99 latency. Bounded: run it with
// -benchtime=200x or so.
func BenchmarkCmdToState(b *testing.B) {
	cfg := loadConfig(b, benchConfig)
	bx := startBox(b, cfg, slog.New(slog.DiscardHandler))
	phone := phonetest.Dial(b, bx.url(), phonetest.App("phone", testToken))
	flooder := phonetest.Dial(b, bx.url(), phonetest.App("flooder", testToken))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Second / 40)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			flooder.Cmd("pump", i%2 == 0)
		}
	}()
	lamp := gpio.Line{Offset: 17}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		want := i%2 == 0
		start := time.Now()
		phone.Cmd("lamp", want)
		phone.ExpectBroadcast(phonetest.Msg("state", "target", "lamp", "value", want), 10*time.Second)
		lat = append(lat, time.Since(start))
		if lvl, _ := bx.board.OutputLevel(lamp); lvl != want {
			b.Fatalf("lamp pin %v after its state %v", lvl, want)
		}
		// Stay under the relay's 50 frames/s per socket.
		time.Sleep(25 * time.Millisecond)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
	if testing.Verbose() {
		fmt.Printf("cmd->pin->state over %d commands: p50 %v p99 %v max %v\n", len(lat), q(0.5), q(0.99), lat[len(lat)-1])
	}
}
