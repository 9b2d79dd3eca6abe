package ldap_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// feedBench is a server with syncprov, 100k users in 200 groups of 500,
// and a cookie taken before 20 changes, shared by the feed benchmarks.
type feedBench struct {
	once   sync.Once
	s      *slapdtest.Server
	err    error
	cookie []byte
	// feedCookie is how long FeedCookie took over the 100k users.
	feedCookie time.Duration
}

var (
	feedWithLog    feedBench // olcSpSessionlog: deletions by ID
	feedWithoutLog feedBench // no session log: a present phase
)

const benchGroups = 200

func (fb *feedBench) get(b *testing.B, sessionLog int) *feedBench {
	b.Helper()
	if err := slapdtest.Available(); err != nil {
		b.Skip(err)
	}
	fb.once.Do(func() {
		data := slapdtest.NewData("")
		users := data.AddUsers(benchUsers, "u", "")
		per := benchUsers / benchGroups
		var groups []string
		for g := range benchGroups {
			groups = append(groups, data.AddGroup(slapdtest.Group{CN: fmt.Sprintf("g%03d", g), Members: users[g*per : (g+1)*per]}))
		}
		start := time.Now()
		fb.s, fb.err = slapdtest.Launch(slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: sessionLog}})
		if fb.err != nil {
			return
		}
		b.Logf("loaded %d users in %d groups in %s", benchUsers, benchGroups, time.Since(start).Round(time.Millisecond))
		cleanups = append(cleanups, fb.s.Stop)
		d, err := ldap.Open(context.Background(), benchFeedConfig(fb.s))
		if err != nil {
			fb.err = err
			return
		}
		defer d.Close()
		start = time.Now()
		if fb.cookie, fb.err = d.FeedCookie(context.Background()); fb.err != nil {
			return
		}
		fb.feedCookie = time.Since(start)
		fb.err = benchChanges(fb.s, data, users, groups)
	})
	if fb.err != nil {
		b.Fatal(fb.err)
	}
	return fb
}

func benchFeedConfig(s *slapdtest.Server) ldap.Config {
	cfg := s.Config()
	cfg.PageSize = 1000 // as BenchmarkSearch100k
	cfg.Attributes.Disabled = "employeeType"
	return cfg
}

// benchChanges makes 20 changes: 8 mails, 3 users disabled, 3 members
// added and 2 removed (5 groups), 2 users deleted, a group nested in
// another, a new group of 10.
func benchChanges(s *slapdtest.Server, data *slapdtest.Data, users, groups []string) error {
	conn, err := goldap.DialURL(s.URL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Bind(s.RootDN, s.RootPassword); err != nil {
		return err
	}
	modify := func(dn string, change func(*goldap.ModifyRequest)) error {
		m := goldap.NewModifyRequest(dn, nil)
		change(m)
		return conn.Modify(m)
	}
	var errs []error
	for i := range 8 {
		errs = append(errs, modify(users[1000*i+1], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{fmt.Sprintf("changed%d@example.com", i)}) }))
	}
	for i := range 3 {
		errs = append(errs, modify(users[1000*i+2], func(m *goldap.ModifyRequest) { m.Replace("employeeType", []string{"TRUE"}) }))
	}
	for i := range 3 {
		errs = append(errs, modify(groups[10*i], func(m *goldap.ModifyRequest) { m.Add("member", []string{users[(10*i+1)*500+7]}) }))
	}
	for i := range 2 {
		errs = append(errs, modify(groups[10*i+5], func(m *goldap.ModifyRequest) { m.Delete("member", []string{users[(10*i+5)*500+3]}) }))
	}
	for i := range 2 {
		errs = append(errs, conn.Del(goldap.NewDelRequest(users[50_000+i], nil)))
	}
	errs = append(errs, modify(groups[100], func(m *goldap.ModifyRequest) { m.Add("member", []string{groups[101]}) }))
	add := goldap.NewAddRequest("cn=new,"+data.GroupsDN(), nil)
	add.Attribute("objectClass", []string{"groupOfNames"})
	add.Attribute("cn", []string{"new"})
	add.Attribute("member", users[70_000:70_010])
	errs = append(errs, conn.Add(add))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkChanges100k reads 20 changes among 100k users in 200 groups
// with the session log (deletions by ID), and in the same run one full
// Search of the same scope: ns/op and reads/op are Changes', search-ms
// and search-entries the full read's, x-faster their ratio.
func BenchmarkChanges100k(b *testing.B) { benchmarkChanges(b, feedWithLog.get(b, 10_000)) }

// BenchmarkChanges100kPresentPhase is the same without a session log
// (slapd's default): every unchanged entry's ID comes in a present phase.
func BenchmarkChanges100kPresentPhase(b *testing.B) { benchmarkChanges(b, feedWithoutLog.get(b, 0)) }

func benchmarkChanges(b *testing.B, fb *feedBench) {
	d, err := ldap.Open(context.Background(), benchFeedConfig(fb.s))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var (
		total time.Duration
		last  *directory.Changes
	)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		ch, err := d.Changes(context.Background(), fb.cookie)
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		last = ch
	}
	perChanges := total / time.Duration(b.N)

	start := time.Now()
	res, err := d.SearchDetailed(context.Background(), "*", func(directory.Entry) error { return nil })
	search := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("Changes: %d entries, %d groups' members, %d deleted, present %d, %d reads, %s; full Search: %d entries, %s; FeedCookie: %s",
		len(last.Entries), len(last.Members), len(last.Deleted), len(last.Present), last.Reads, perChanges.Round(time.Microsecond),
		res.Entries, search.Round(time.Millisecond), fb.feedCookie.Round(time.Millisecond))
	b.ReportMetric(float64(last.Reads), "reads/op")
	b.ReportMetric(float64(res.Entries), "search-entries")
	b.ReportMetric(float64(search.Milliseconds()), "search-ms")
	b.ReportMetric(search.Seconds()/perChanges.Seconds(), "x-faster")
	b.ReportMetric(float64(fb.feedCookie.Milliseconds()), "feedcookie-ms")
}
