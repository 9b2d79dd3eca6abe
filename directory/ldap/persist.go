package ldap

import (
	"context"
	"errors"
	"fmt"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// A watch (usersync sync --watch) learns of changes as they happen through
// RFC 4533 refreshAndPersist: the feed's two sync searches (users and
// groups, as Changes runs them) stay open and the server sends each change
// as it is made. The searches ask for no attributes: they only wake the
// watch, which reads what changed with Changes from the cookie the store
// holds — the same read, rules and cookie handling as any incremental
// sync, so that a change the persistent search carried is never applied
// without the cookie that covers it. Active Directory has no persistent
// search usersync uses (DirSync is polled); a server without content
// synchronization has none either.

var _ directory.ChangeWatcher = (*Directory)(nil)

// WatchChanges keeps the feed's sync searches open in refreshAndPersist
// mode from cookie (see directory.ChangeWatcher). A cookie the server
// refuses, or none, starts the searches from now: the caller's next
// Changes tells what changed since its own cookie. The searches are not
// under the connection's inactivity timeout (a quiet directory sends
// nothing for hours); a directory that restarts closes the connection,
// which ends them with an error.
func (d *Directory) WatchChanges(ctx context.Context, cookie []byte, changed, live func()) error {
	if d.adFeed() {
		return fmt.Errorf("%s: %w: Active Directory offers no persistent change search usersync uses; its changes are polled (DirSync or uSNChanged)", d.label(), directory.ErrNoFeed)
	}
	if err := d.noFeed(); err != nil {
		return err
	}
	parts := d.feedParts()
	held, err := decodeCookie(cookie)
	if err == nil {
		err = matchCookie(held, parts)
	}
	if err != nil {
		held = nil
	}
	parent := ctx
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		pending = len(parts) // searches still in their refresh phase
		early   bool         // something changed during the refresh phases
	)
	caughtUp := func() {
		mu.Lock()
		pending--
		last, any := pending == 0, early
		mu.Unlock()
		if last {
			if any {
				changed()
			}
			live()
		}
	}
	note := func(refreshing bool) {
		if refreshing {
			mu.Lock()
			early = true
			mu.Unlock()
			return
		}
		changed()
	}
	errs := make(chan error, len(parts))
	for i, p := range parts {
		var from []byte
		if held != nil {
			from = held[i].Server
		}
		go func() {
			err := d.persist(ctx, conn, p, from, note, caughtUp)
			cancel() // one search ended: end the other, the caller reconnects
			errs <- err
		}()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if parent.Err() != nil {
		return nil
	}
	if first == nil {
		first = errors.New("the server ended the persistent search")
	}
	return fmt.Errorf("watch %s for changes: %w", d.label(), first)
}

// persist runs one part's sync search in refreshAndPersist mode until ctx
// is done or the search ends. note is called for every change, with
// refreshing true while the refresh phase runs; caughtUp once the refresh
// phase is over. A cookie the server refuses is dropped: the search starts
// again from now.
func (d *Directory) persist(ctx context.Context, conn *session, p feedPart, cookie []byte, note func(refreshing bool), caughtUp func()) error {
	for {
		refreshing := true
		sr := goldap.NewSearchRequest(p.base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, p.filter, []string{"1.1"}, nil)
		resp := conn.Syncrepl(ctx, sr, 64, goldap.SyncRequestModeRefreshAndPersist, cookie, false)
		for resp.Next() {
			if resp.Entry() != nil {
				if st, _ := goldap.FindControl(resp.Controls(), goldap.ControlTypeSyncState).(*goldap.ControlSyncState); st == nil {
					return fmt.Errorf("%w: the server answered the sync search under %s as a plain search (no Sync State control)", directory.ErrNoFeed, p.base)
				}
				note(refreshing)
				continue
			}
			for _, c := range resp.Controls() {
				info, ok := c.(*goldap.ControlSyncInfo)
				if !ok {
					continue
				}
				done := false
				switch {
				case info.RefreshDelete != nil:
					done = info.RefreshDelete.RefreshDone
				case info.RefreshPresent != nil:
					done = info.RefreshPresent.RefreshDone
				case info.SyncIdSet != nil && len(info.SyncIdSet.SyncUUIDs) > 0:
					note(refreshing)
				}
				if done && refreshing {
					refreshing = false
					caughtUp()
				}
			}
		}
		err := resp.Err()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && len(cookie) > 0 && (goldap.IsErrorWithCode(err, goldap.LDAPResultSyncRefreshRequired) || goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform)):
			if !refreshing {
				return d.syncError(p.req(nil), cookie, 0, err)
			}
			cookie = nil // start from now: the caller's Changes sorts it out
			note(true)
			continue
		case err != nil:
			return d.syncError(p.req(nil), cookie, 0, err)
		case conn.IsClosing():
			return &directory.IncompleteError{Reason: fmt.Sprintf("the connection to %s was lost", d.c.hostport), Err: conn.GetLastError()}
		}
		return fmt.Errorf("the persistent sync search under %s ended", p.base)
	}
}
