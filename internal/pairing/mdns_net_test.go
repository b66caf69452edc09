package pairing

import (
	"context"
	"io"
	"log"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
)

// TestAdvertiseAnswersQueries advertises on the host's multicast interface
// and browses for it with the same library. It sends multicast on the LAN,
// so it only runs when MESHBOX_MDNS_LIVE=1 (on a developer's own network);
// TestAdvertRecords covers the records everywhere.
func TestAdvertiseAnswersQueries(t *testing.T) {
	if os.Getenv("MESHBOX_MDNS_LIVE") != "1" {
		t.Skip("sends mDNS multicast on the LAN: set MESHBOX_MDNS_LIVE=1 to run it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ip, err := Resolver{}.LANIPv4()
	if err != nil {
		t.Skipf("no LAN address: %v", err)
	}
	a := Advert{Instance: "meshbox-test", Hostname: "meshbox-test", Port: 18765, IPs: []net.IP{ip}, TXT: []string{"path=/"}}
	if err := Advertise(ctx, a, nil); err != nil {
		t.Skipf("no multicast here: %v", err)
	}
	entries := make(chan *mdns.ServiceEntry, 16)
	qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
	defer qcancel()
	params := mdns.DefaultParams(ServiceType)
	params.Entries = entries
	params.Timeout = 1500 * time.Millisecond
	params.DisableIPv6 = true
	params.Logger = log.New(io.Discard, "", 0)
	if err := mdns.QueryContext(qctx, params); err != nil {
		t.Skipf("cannot query mDNS here: %v", err)
	}
	close(entries)
	for e := range entries {
		if e.Name != "meshbox-test._meshsocket._tcp.local." {
			continue // another box on this LAN
		}
		if e.Port != 18765 || e.Host != "meshbox-test.local." || !e.AddrV4.Equal(ip) || len(e.InfoFields) != 1 || e.InfoFields[0] != "path=/" {
			t.Fatalf("advertised entry %+v", e)
		}
		return
	}
	t.Skip("no mDNS answer received (multicast loopback unavailable on this host)")
}
