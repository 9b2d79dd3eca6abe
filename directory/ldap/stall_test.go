package ldap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// A server that stops answering in the middle of a read (SIGSTOP: the
// connection stays open, nothing comes back) must not hold the caller
// past the timeout: each call gives up after the timeout without a byte,
// as an incomplete read that says so.

const (
	stallTimeout = time.Second
	// stallSlack is what a call may take beyond the timeout: closing the
	// connection and unwinding, on a busy machine under -race.
	stallSlack = 4 * time.Second
)

// pauseInCleanup resumes s when the test ends, so that its Stop is clean
// even if the test fails while s is paused.
func pauseInCleanup(t *testing.T, s *slapdtest.Server) {
	t.Helper()
	t.Cleanup(func() { _ = s.Resume() })
}

// pause freezes s, failing the test where that cannot be done.
func pause(t *testing.T, s *slapdtest.Server) {
	if err := s.Pause(); err != nil {
		t.Error(err)
	}
}

// wantNoAnswer checks that a call gave up in time, as an incomplete read
// naming the timeout.
func wantNoAnswer(t *testing.T, what string, err error, took time.Duration) {
	t.Helper()
	if took > stallTimeout+stallSlack {
		t.Errorf("%s took %s against a stopped server, with a %s timeout", what, took.Round(time.Millisecond), stallTimeout)
	}
	if !errors.Is(err, directory.ErrIncomplete) {
		t.Errorf("%s: err = %v, want an incomplete read (directory.ErrIncomplete)", what, err)
	}
	if want := "slapd did not answer for 1s (timeout)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: err = %v, want it to say %q", what, err, want)
	}
	t.Logf("%s gave up after %s: %v", what, took.Round(time.Millisecond), err)
}

func stallConfig(s *slapdtest.Server, url string) ldap.Config {
	cfg := s.Config()
	cfg.Timeout = ldap.Duration{Duration: stallTimeout}
	cfg.PageSize = 100
	if url != "" {
		cfg.URL = url
	}
	return cfg
}

func TestStall_SearchGivesUpWhenTheServerStopsMidway(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(5000, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	pauseInCleanup(t, s)
	d := open(t, stallConfig(s, ""))

	n := 0
	start := time.Now()
	err := d.Search(testContext(t), "*", func(directory.Entry) error {
		n++
		if n == 300 {
			pause(t, s) // mid-way through the third page
		}
		return nil
	})
	wantNoAnswer(t, "Search", err, time.Since(start))
	if n >= 5000 {
		t.Errorf("got all %d entries from a stopped server?", n)
	}

	// The server comes back: the next call reconnects and reads it all.
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	n = 0
	if err := d.Search(testContext(t), "u*", func(directory.Entry) error { n++; return nil }); err != nil || n != 5000 {
		t.Errorf("Search after the server came back: %d entries, %v; want 5000", n, err)
	}
}

func TestStall_ReadGroupGivesUpWhenTheServerStopsMidway(t *testing.T) {
	t.Parallel()
	const n = 3210
	data, big := bigGroupData(n)
	plain := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	pauseInCleanup(t, plain)
	withMemberOf := slapdtest.Start(t, slapdtest.Options{Data: data})
	pauseInCleanup(t, withMemberOf)

	for _, tc := range []struct {
		name string
		s    *slapdtest.Server
		// proxy shapes the answers; pauseAt counts the entries the group
		// read gets before the server stops.
		proxy   slapdtest.ProxyOptions
		pauseAt int
	}{
		// Members resolved by RDN, 100 per search: stopped in the 4th.
		{name: "member batches", s: plain, pauseAt: 350},
		// Members found by one memberOf search, a page at a time.
		{name: "memberOf pages", s: withMemberOf, pauseAt: 250},
		// member read in ranges as Active Directory sends it: stopped
		// right after the group entry, before the second range.
		{name: "member ranges", s: plain, proxy: slapdtest.ProxyOptions{MaxValues: 1000}, pauseAt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := slapdtest.NewProxy(t, tc.s.Addr, tc.proxy)
			d := open(t, stallConfig(tc.s, p.URL))
			at := p.Entries() + tc.pauseAt // Open read the root DSE
			p.OnEntry(func(count int) {
				if count == at {
					pause(t, tc.s)
				}
			})
			start := time.Now()
			read, err := d.ReadGroup(testContext(t), slapdtest.UUID(big))
			took := time.Since(start)
			if err == nil {
				// The interface allows a partial read marked incomplete;
				// ours is an error, but either must name the timeout.
				err = &directory.IncompleteError{Reason: read.Incomplete}
				if read.Complete() {
					t.Fatalf("a complete read of %d members from a stopped server", len(read.Members))
				}
			}
			wantNoAnswer(t, "ReadGroup", err, took)

			p.OnEntry(func(int) {})
			if err := tc.s.Resume(); err != nil {
				t.Fatal(err)
			}
			checkBig(t, readGroup(t, d, big), n)
		})
	}
}

func TestStall_LookupUsersGivesUpWhenTheServerStopsMidway(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	dns := data.AddUsers(1000, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	pauseInCleanup(t, s)
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	d := open(t, stallConfig(s, p.URL))
	var ids []string
	for _, dn := range dns {
		ids = append(ids, slapdtest.UUID(dn))
	}
	at := p.Entries() + 150 // in the second batch of 100 IDs
	p.OnEntry(func(count int) {
		if count == at {
			pause(t, s)
		}
	})
	start := time.Now()
	got, err := d.LookupUsers(testContext(t), ids)
	wantNoAnswer(t, "LookupUsers", err, time.Since(start))
	if got != nil {
		t.Errorf("LookupUsers from a stopped server returned %d users: nothing can be concluded from it", len(got))
	}
}

// Against a stopped server, connecting succeeds (the kernel completes the
// TCP handshake) and then nothing answers: StartTLS, the TLS handshake of
// ldaps and the bind each give up after the timeout.
func TestStall_OpenGivesUpOnAStoppedServer(t *testing.T) {
	t.Parallel()
	s := tlsServer(t)
	pauseInCleanup(t, s)
	pause(t, s)
	for _, tc := range []struct {
		name string
		cfg  func(*ldap.Config)
		step string
	}{
		{"StartTLS", func(*ldap.Config) {}, "StartTLS"},
		{"ldaps", func(c *ldap.Config) { c.URL, c.StartTLS = s.LDAPSURL, false }, "TLS"},
		{"bind in clear", func(c *ldap.Config) { c.StartTLS, c.CAFile, c.AllowInsecure = false, "", true }, "bind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := stallConfig(s, "")
			tc.cfg(&cfg)
			start := time.Now()
			_, err := ldap.Open(testContext(t), cfg)
			took := time.Since(start)
			if took > stallTimeout+stallSlack {
				t.Errorf("Open took %s against a stopped server, with a %s timeout", took.Round(time.Millisecond), stallTimeout)
			}
			want := tc.step + " "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "slapd did not answer for 1s (timeout)") {
				t.Errorf("Open: err = %v, want the %s step to say slapd did not answer for 1s (timeout)", err, tc.step)
			}
			t.Logf("Open gave up after %s: %v", took.Round(time.Millisecond), err)
		})
	}
}

// The timeout is a limit on silence, not on a read's length: a server that
// answers slowly but steadily is read to the end however long that takes,
// and so is one whose caller is slow to take the entries.
func TestStall_SlowButSteadyReadsAreNotCut(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	members := data.AddUsers(60, "m", "")
	group := data.AddGroup(slapdtest.Group{CN: "slow", Members: members})
	s := slapdtest.Start(t, slapdtest.Options{Data: data, NoMemberOf: true})
	// Every message takes 40 ms: a 50-entry page takes 2 s, twice the
	// timeout, without a gap longer than 40 ms.
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{Delay: 40 * time.Millisecond})
	cfg := stallConfig(s, p.URL)
	cfg.PageSize = 50
	d := open(t, cfg)

	t.Run("search", func(t *testing.T) {
		start := time.Now()
		n := 0
		err := d.Search(testContext(t), "m*", func(directory.Entry) error { n++; return nil })
		took := time.Since(start)
		if err != nil || n != 60 {
			t.Fatalf("slow search: %d entries, %v after %s; want all 60", n, err, took)
		}
		if took < 2*stallTimeout {
			t.Errorf("the slow search took only %s: the test proves nothing", took)
		}
	})
	t.Run("group", func(t *testing.T) {
		start := time.Now()
		read := readGroup(t, d, group)
		took := time.Since(start)
		if !read.Complete() || len(read.Members) != 60 {
			t.Fatalf("slow group read: %d members, incomplete %q after %s", len(read.Members), read.Incomplete, took)
		}
		if took < 2*stallTimeout {
			t.Errorf("the slow group read took only %s: the test proves nothing", took)
		}
	})
	t.Run("slow caller", func(t *testing.T) {
		// The server has sent everything while the caller spends longer
		// than the timeout on one entry: nobody waited for the server.
		d := open(t, stallConfig(s, s.URL))
		n := 0
		err := d.Search(testContext(t), "m*", func(directory.Entry) error {
			n++
			if n == 10 {
				time.Sleep(stallTimeout + stallTimeout/2)
			}
			return nil
		})
		if err != nil || n != 60 {
			t.Errorf("search with a slow caller: %d entries, %v; want all 60", n, err)
		}
	})
}

// Cancelling the context still ends a call that waits on a stopped server
// before the timeout does, as a cancellation.
func TestStall_CancelStillEndsTheWait(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	data.AddUsers(500, "u", "")
	s := slapdtest.Start(t, slapdtest.Options{Data: data})
	pauseInCleanup(t, s)
	cfg := stallConfig(s, "")
	cfg.Timeout = ldap.Duration{Duration: time.Minute}
	d := open(t, cfg)
	ctx, cancel := context.WithCancel(testContext(t))
	n := 0
	start := time.Now()
	err := d.Search(ctx, "*", func(directory.Entry) error {
		n++
		if n == 150 {
			pause(t, s)
			time.AfterFunc(300*time.Millisecond, cancel)
		}
		return nil
	})
	if took := time.Since(start); took > stallSlack {
		t.Errorf("a cancelled search took %s", took)
	}
	if !errors.Is(err, directory.ErrIncomplete) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want an incomplete read, cancelled", err)
	}
	if err != nil && strings.Contains(err.Error(), "did not answer") {
		t.Errorf("err = %v: a cancellation reported as a timeout", err)
	}
}
