package ldap_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// watching runs WatchChanges in the background and reports what it says.
type watching struct {
	changed, live chan struct{}
	done          chan error
}

func watch(ctx context.Context, d interface {
	WatchChanges(context.Context, []byte, func(), func()) error
}, cookie []byte) *watching {
	w := &watching{changed: make(chan struct{}, 100), live: make(chan struct{}, 100), done: make(chan error, 1)}
	go func() {
		w.done <- d.WatchChanges(ctx, cookie,
			func() { w.changed <- struct{}{} },
			func() { w.live <- struct{}{} })
	}()
	return w
}

func (w *watching) wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case err := <-w.done:
		t.Fatalf("waiting for %s: WatchChanges ended: %v", what, err)
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
	}
}

// TestWatchChanges_WakesOnChangesAndEndsOnALostConnection: the persistent
// sync search catches up from the cookie (saying that something changed
// since it), then wakes its caller for each change made in slapd, within
// a fraction of a second; a lost connection ends it with an error (the
// caller reconnects), and cancelling ends it with nil.
func TestWatchChanges_WakesOnChangesAndEndsOnALostConnection(t *testing.T) {
	t.Parallel()
	data := slapdtest.NewData("")
	users := data.AddUsers(50, "u", "")
	data.AddGroup(slapdtest.Group{CN: "staff", Members: users[:10]})
	s := slapdtest.Start(t, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100}})
	p := slapdtest.NewProxy(t, s.Addr, slapdtest.ProxyOptions{})
	cfg := feedConfig(s)
	cfg.URL = p.URL
	d := open(t, cfg)
	cookie := feedCookie(t, d)
	s.Modify(t, users[1], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"early@example.com"}) })

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	w := watch(ctx, d, cookie)
	w.wait(t, w.changed, "the change made since the cookie")
	w.wait(t, w.live, "the end of the refresh phase")

	start := time.Now()
	s.Modify(t, users[2], func(m *goldap.ModifyRequest) { m.Replace("mail", []string{"late@example.com"}) })
	w.wait(t, w.changed, "a change made while watching")
	if took := time.Since(start); took > time.Second {
		t.Errorf("the change woke the watch after %v", took)
	}
	s.Delete(t, users[3])
	w.wait(t, w.changed, "a deletion made while watching")

	p.CutAll() // the directory restarts
	select {
	case err := <-w.done:
		if err == nil {
			t.Fatal("a lost connection ended WatchChanges with nil; want an error, so that the caller reconnects")
		}
		t.Log(err)
	case <-time.After(5 * time.Second):
		t.Fatal("WatchChanges did not end when its connection was lost")
	}

	// Reconnected from an old cookie: it catches up and goes on.
	w = watch(ctx, d, cookie)
	w.wait(t, w.changed, "the changes since the cookie after reconnecting")
	w.wait(t, w.live, "the end of the refresh phase after reconnecting")
	cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("cancelled WatchChanges: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchChanges did not end when cancelled")
	}
}

// TestWatchChanges_WithoutSyncProvIsNoFeed: a server without content
// synchronization offers no persistent search either: the caller polls.
func TestWatchChanges_WithoutSyncProvIsNoFeed(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{})
	d := open(t, s.Config())
	err := d.WatchChanges(testContext(t), nil, func() {}, func() {})
	if !errors.Is(err, directory.ErrNoFeed) {
		t.Errorf("WatchChanges without syncprov: %v, want ErrNoFeed", err)
	}
}
