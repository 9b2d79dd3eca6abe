package ldap_test

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/sambatest"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// Benchmarks share servers loaded with 100k users (slapadd takes ~10 s per
// server), launched on first use and stopped by TestMain.
const benchUsers = 100_000

type sharedServer struct {
	once  sync.Once
	s     *slapdtest.Server
	err   error
	group string
}

var (
	withMemberOf    sharedServer
	withoutMemberOf sharedServer
)

// cleanups stop the servers other shared benchmark fixtures launched.
var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, sh := range []*sharedServer{&withMemberOf, &withoutMemberOf} {
		if sh.s != nil {
			sh.s.Stop()
		}
	}
	for _, stop := range cleanups {
		stop()
	}
	sambatest.StopShared()
	os.Exit(code)
}

func (sh *sharedServer) get(b *testing.B, noMemberOf bool) (*slapdtest.Server, string) {
	b.Helper()
	if err := slapdtest.Available(); err != nil {
		b.Skip(err) // benchmarks skip even in CI: they are not part of its test run
	}
	sh.once.Do(func() {
		data := slapdtest.NewData("")
		members := data.AddUsers(benchUsers, "u", "")
		sh.group = data.AddGroup(slapdtest.Group{CN: "everyone", Members: members})
		start := time.Now()
		sh.s, sh.err = slapdtest.Launch(slapdtest.Options{Data: data, NoMemberOf: noMemberOf})
		b.Logf("loaded %d users in %s", benchUsers, time.Since(start).Round(time.Millisecond))
		// The data built for slapadd is garbage now: collect it, or the
		// heap sampled by a read that allocates little still holds it.
		runtime.GC()
	})
	if sh.err != nil {
		b.Fatal(sh.err)
	}
	return sh.s, sh.group
}

// heapPeak samples the live heap while a read runs.
type heapPeak struct{ max uint64 }

func (h *heapPeak) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.max = max(h.max, ms.HeapInuse)
}

func BenchmarkSearch100k(b *testing.B) { benchmarkSearch(b, false) }

// BenchmarkSearch100kGoLDAP is BenchmarkSearch100k read by go-ldap, as
// before the bulk connection: run with it, it gives the ratio of the two
// readers on the same machine at the same moment.
func BenchmarkSearch100kGoLDAP(b *testing.B) { benchmarkSearch(b, true) }

func benchmarkSearch(b *testing.B, goldapReader bool) {
	s, _ := withMemberOf.get(b, false)
	cfg := s.Config()
	cfg.PageSize = 1000
	d, err := ldap.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if goldapReader {
		ldap.UseGoLDAPReader(d)
	}
	var peak heapPeak
	var total time.Duration
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		start := time.Now()
		err := d.Search(context.Background(), "u*", func(directory.Entry) error {
			if n++; n%10_000 == 0 {
				peak.sample()
			}
			return nil
		})
		total += time.Since(start)
		if err != nil || n != benchUsers {
			b.Fatalf("%d entries, %v", n, err)
		}
	}
	b.ReportMetric(float64(benchUsers)*float64(b.N)/total.Seconds(), "entries/s")
	b.ReportMetric(float64(peak.max)/(1<<20), "heap-MiB")
}

func benchmarkReadGroup(b *testing.B, sh *sharedServer, noMemberOf, goldapReader bool) {
	s, group := sh.get(b, noMemberOf)
	d, err := ldap.Open(context.Background(), s.Config())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if goldapReader {
		ldap.UseGoLDAPReader(d)
	}
	var total time.Duration
	var peak heapPeak
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		read, err := d.ReadGroup(context.Background(), slapdtest.UUID(group))
		total += time.Since(start)
		if err != nil || !read.Complete() || len(read.Members) != benchUsers {
			b.Fatalf("%v, %v", err, read)
		}
		peak.sample()
	}
	b.ReportMetric(float64(benchUsers)*float64(b.N)/total.Seconds(), "members/s")
	b.ReportMetric(float64(peak.max)/(1<<20), "heap-MiB")
}

// BenchmarkReadGroup100k reads a group of 100k members whose users carry
// memberOf (one streamed memberOf search).
func BenchmarkReadGroup100k(b *testing.B) { benchmarkReadGroup(b, &withMemberOf, false, false) }

// BenchmarkReadGroup100kGoLDAP is BenchmarkReadGroup100k read by go-ldap,
// as before the bulk connection.
func BenchmarkReadGroup100kGoLDAP(b *testing.B) { benchmarkReadGroup(b, &withMemberOf, false, true) }

// BenchmarkReadGroup100kNoMemberOf reads the same group from a server
// without the memberof overlay (OR filters of 100 RDNs per search).
func BenchmarkReadGroup100kNoMemberOf(b *testing.B) {
	benchmarkReadGroup(b, &withoutMemberOf, true, false)
}

func BenchmarkLookupUsers10k(b *testing.B) {
	s, _ := withMemberOf.get(b, false)
	d, err := ldap.Open(context.Background(), s.Config())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = slapdtest.UUID("uid=u" + pad6(i*7) + ",ou=people," + slapdtest.DefaultSuffix)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := d.LookupUsers(context.Background(), ids)
		if err != nil || len(got) != len(ids) {
			b.Fatalf("%d found, %v", len(got), err)
		}
	}
}

func pad6(i int) string {
	s := []byte("000000")
	for p := 5; p >= 0 && i > 0; p-- {
		s[p] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}
