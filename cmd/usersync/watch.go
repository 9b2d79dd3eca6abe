package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/usersync/usersync/directory"
	"github.com/usersync/usersync/importer"
	"github.com/usersync/usersync/store"
)

// sync --watch: a service that keeps the store in step with its
// directories.
//
// How it learns of changes: on an LDAP server that offers a persistent
// sync search (OpenLDAP syncprov, 389-DS, FreeIPA), a goroutine per
// directory keeps one open (directory.ChangeWatcher) and wakes the loop
// when something changes; the loop gathers what follows closely (gather),
// then reads the changes as any incremental sync does and applies them as
// one run.
// While such a search is live, its directory is not polled. Every other
// directory (Active Directory's DirSync or uSNChanged, Entra's delta
// queries, LDAP without syncprov), and an LDAP one whose persistent search
// is lost until it is back, is read every --interval.
//
// How it holds the store: a round reads the groups and their cookies with
// a read-only open and closes it; reads the directory with the store
// closed (the store reads the layout of an incremental read needs are
// made through storeReader, which opens the store read-only for them and
// closes it before any directory call); then opens the store to write only
// to apply. The apply checks, in the transaction that starts its run, that
// the groups' cookies and last syncs are those it read (store.Input.Expect):
// when another process synchronized them meanwhile, nothing is applied and
// the round reads again. A store another process holds (a TUI, a sync from
// cron) is waited for, never a reason to stop. A directory that cannot be
// read is tried again with a growing pause; the first failure of an outage
// is journaled as a failed run (as any sync journals it), the retries are
// only said on stderr.

// After a change is announced, a watch gathers the changes that follow it
// closely into the same run: it waits until none has come for watchQuiet,
// or watchWindow has passed since the first.
const (
	watchWindow = 200 * time.Millisecond
	watchQuiet  = 50 * time.Millisecond
)

// watcher is one sync --watch.
type watcher struct {
	a        *app
	o        *importer.Sync
	out      output
	command  string
	interval time.Duration

	// wake is signalled (never blocking) when a persistent search
	// announces a change; dirty says for which directories.
	wake   chan struct{}
	mu     sync.Mutex
	dirty  map[string]bool
	cookie map[string][]byte // per directory: where its persistent search resumes
	events chan watchEvent
}

// watchEvent is news from a directory's persistent search.
type watchEvent struct {
	source string
	kind   watchEventKind
	err    error
}

type watchEventKind int

const (
	searchLive        watchEventKind = iota // caught up: changes come as they are made
	searchEnded                             // lost (err): the goroutine reconnects
	searchUnsupported                       // no persistent search: poll
)

// sourceWatch is what the loop knows of one directory.
type sourceWatch struct {
	searching bool // a goroutine runs its persistent search
	live      bool // that search is caught up: no polling needed
	// searchable is true until the directory proves it offers no
	// persistent search: it is then polled for good.
	searchable bool
	due        time.Time // its next read when it is polled
	pause      time.Duration
	// failing is set while its reads fail: the first failure of an
	// outage is journaled, not every retry.
	failing bool
}

// watch runs sync --watch until ctx is done (SIGTERM, Ctrl+C: exit 0).
func (a *app) watch(ctx context.Context, o *importer.Sync, out output, command string, interval time.Duration) error {
	w := &watcher{a: a, o: o, out: out, command: command, interval: interval,
		wake: make(chan struct{}, 1), dirty: map[string]bool{}, cookie: map[string][]byte{},
		events: make(chan watchEvent, 16)}
	a.close() // the watch opens the store only when it needs it
	fmt.Fprintf(a.stderr, "usersync: watching for changes (LDAP with syncprov: as they come; other directories: every %s); SIGTERM or Ctrl+C stops.\n", interval)
	searches, stopSearches := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() {
		stopSearches()
		running.Wait()
		fmt.Fprintln(a.stderr, "usersync: stopped watching.")
	}()

	sources := map[string]*sourceWatch{}
	listPause := time.Second
	for first := true; ; first = false {
		groups, err := w.groups(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && first && exitCode(err) == exitUsage:
			return err
		case err != nil:
			w.logf("%s; trying again in %s", err, listPause)
			if !sleep(ctx, listPause) {
				return nil
			}
			listPause = min(2*listPause, interval)
			continue
		}
		listPause = time.Second
		if first && len(groups) == 0 {
			fmt.Fprintln(a.stderr, "No imported groups to synchronize yet: the watch looks again every --interval.")
		}
		names := make([]string, 0, len(groups))
		for source := range groups {
			names = append(names, source)
		}
		sort.Strings(names)
		dirty := w.takeDirty()
		for _, source := range names {
			sw := sources[source]
			if sw == nil {
				sw = &sourceWatch{searchable: true, pause: time.Second}
				sources[source] = sw
			}
			w.setCookie(source, groups[source])
			if !sw.searching && sw.searchable && w.a.isLDAP(source) {
				sw.searching = true
				running.Add(1)
				go func() {
					defer running.Done()
					w.search(searches, source)
				}()
			}
			now := time.Now()
			if !dirty[source] && (sw.live || now.Before(sw.due)) {
				continue
			}
			err := w.round(ctx, source, groups[source], !sw.failing)
			if ctx.Err() != nil {
				return nil
			}
			switch code := exitCode(err); {
			case err == nil, code == exitEntryError, code == exitIncomplete:
				sw.due, sw.pause, sw.failing = time.Now().Add(interval), time.Second, false
			default:
				sw.failing = true
				w.logf("%s; trying again in %s", err, sw.pause)
				sw.due, sw.pause = time.Now().Add(sw.pause), min(2*sw.pause, interval)
			}
		}

		// Wait for the next polled read, a change, or news of a search.
		wait := interval
		for _, source := range names {
			if sw := sources[source]; !sw.live {
				wait = min(wait, max(0, time.Until(sw.due)))
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		case <-w.wake:
			timer.Stop()
			if !w.gather(ctx) {
				return nil
			}
		case ev := <-w.events:
			timer.Stop()
			w.note(sources, ev)
		}
		for drained := false; !drained; { // news that came meanwhile
			select {
			case ev := <-w.events:
				w.note(sources, ev)
			default:
				drained = true
			}
		}
	}
}

// gather waits for the changes that follow an announced one closely
// (watchQuiet, at most watchWindow in all); it reports whether ctx is not
// done.
func (w *watcher) gather(ctx context.Context) bool {
	end := time.NewTimer(watchWindow)
	defer end.Stop()
	for {
		quiet := time.NewTimer(watchQuiet)
		select {
		case <-ctx.Done():
			quiet.Stop()
			return false
		case <-end.C:
			quiet.Stop()
			return true
		case <-quiet.C:
			return true
		case <-w.wake:
			quiet.Stop()
		}
	}
}

// note takes in news of a directory's persistent search.
func (w *watcher) note(sources map[string]*sourceWatch, ev watchEvent) {
	sw := sources[ev.source]
	if sw == nil {
		return
	}
	switch ev.kind {
	case searchLive:
		sw.live = true
	case searchEnded:
		// Read what changed since the cookie now, and poll until the
		// search is back.
		if sw.live { // lost; while it cannot reconnect, the polled reads say why
			w.logf("%s: the persistent change search ended (%v); reconnecting, and reading the changes every %s meanwhile", ev.source, ev.err, w.interval)
			sw.due = time.Now()
		}
		sw.live = false
	case searchUnsupported:
		sw.live, sw.searching, sw.searchable = false, false, false
	}
}

// search keeps source's persistent change search open until ctx is done,
// reconnecting with a growing pause. It ends for good when the directory
// offers none.
func (w *watcher) search(ctx context.Context, source string) {
	send := func(kind watchEventKind, err error) {
		select {
		case w.events <- watchEvent{source: source, kind: kind, err: err}:
		case <-ctx.Done():
		}
	}
	pause := time.Second
	for {
		dir, err := w.a.openDirectory(ctx, source)
		if err == nil {
			cw, ok := dir.(directory.ChangeWatcher)
			if !ok {
				dir.Close()
				send(searchUnsupported, nil)
				return
			}
			began := time.Now()
			err = cw.WatchChanges(ctx, w.cookieOf(source), func() { w.changed(source) }, func() { send(searchLive, nil) })
			dir.Close()
			if errors.Is(err, directory.ErrNoFeed) {
				send(searchUnsupported, err)
				return
			}
			if time.Since(began) > time.Minute {
				pause = time.Second
			}
		}
		if ctx.Err() != nil {
			return
		}
		send(searchEnded, err)
		if !sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// changed notes that source announced a change, and wakes the loop.
func (w *watcher) changed(source string) {
	w.mu.Lock()
	w.dirty[source] = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) takeDirty() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dirty
	w.dirty = map[string]bool{}
	return d
}

// setCookie notes where source's persistent search resumes: a cookie its
// groups hold (any: the search only wakes the loop, which reads the
// changes from each group's own cookie).
func (w *watcher) setCookie(source string, groups []store.Group) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range groups {
		if len(g.Feed) > 0 {
			w.cookie[source] = g.Feed
			return
		}
	}
}

func (w *watcher) cookieOf(source string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cookie[source]
}

// groups reads the groups to synchronize, by directory, with a read-only
// open of the store (closed again at once).
func (w *watcher) groups(ctx context.Context) (map[string][]store.Group, error) {
	st, err := w.a.openStoreWait(ctx, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string][]store.Group{}
	if w.o.All {
		all, err := st.ListGroupsBrief()
		if err != nil {
			return nil, err
		}
		for _, g := range all {
			if g.Kind == store.External {
				out[g.Source] = append(out[g.Source], g)
			}
		}
		return out, nil
	}
	for _, name := range w.o.Groups {
		g, err := st.GetGroup(name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, usageErrorf("no group %q; see 'usersync groups list'", name)
		} else if err != nil {
			return nil, err
		}
		if g.Kind != store.External {
			return nil, usageErrorf("group %q is an internal group: there is no directory to synchronize it from", g.Name)
		}
		g.Members = nil
		out[g.Source] = append(out[g.Source], g)
	}
	return out, nil
}

// round reads what changed in source's groups (with the store closed) and
// applies it as one run (with the store open to write): nothing is
// journaled when nothing changed. When another process synchronized the
// groups meanwhile, it reads again from the store as it is now.
//
// A read that fails is journaled as a failed run when journal is set (the
// first failure of an outage), as any sync journals it; the retries that
// follow are only said on stderr.
func (w *watcher) round(ctx context.Context, source string, groups []store.Group, journal bool) error {
	for attempt := 1; ; attempt++ {
		p, err := w.read(ctx, source, groups)
		if err != nil && journal && ctx.Err() == nil {
			w.journalFailure(ctx, source, err)
		}
		if err != nil || p.Unchanged() {
			return err
		}
		p.Input.Expect = make([]store.GroupMark, 0, len(groups))
		for _, g := range groups {
			p.Input.Expect = append(p.Input.Expect, g.Mark())
		}
		st, err := w.a.openStoreWait(ctx, false)
		if err != nil {
			return err
		}
		// A stop (SIGTERM) lets the batch finish: it takes milliseconds.
		run, err := p.Apply(context.WithoutCancel(ctx), st, w.a.progressPrinter())
		st.Close()
		if errors.Is(err, store.ErrStale) && attempt < 5 {
			w.logf("%s: %v; reading the changes again", source, err)
			all, gerr := w.groups(ctx)
			if gerr != nil {
				return gerr
			}
			if groups = all[source]; len(groups) == 0 {
				return nil
			}
			continue
		}
		var res *importer.Outcome
		if run != nil {
			res = &importer.Outcome{Run: run, Warnings: p.Warnings}
		}
		return w.a.report(res, err, w.out)
	}
}

// read reads what changed in groups from source, with the store closed
// but for the reads the layout needs (storeReader).
func (w *watcher) read(ctx context.Context, source string, groups []store.Group) (*importer.Prepared, error) {
	dir, err := w.a.openDirectory(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("synchronize from %s: %w", source, err)
	}
	defer dir.Close()
	rd := &storeReader{a: w.a, ctx: ctx}
	defer rd.release()
	env := importer.Env{Actor: actor(), Reader: rd}
	p, _, err := w.o.Prepare(ctx, env, releasing(dir, rd), groups, w.command, false)
	if err != nil {
		return nil, fmt.Errorf("synchronize from %s: %w", source, err)
	}
	return p, nil
}

// journalFailure journals a read of source that failed (cause) as a
// failed run, and says which.
func (w *watcher) journalFailure(ctx context.Context, source string, cause error) {
	st, err := w.a.openStoreWait(ctx, false)
	if err != nil {
		return // the caller says why the read failed; a stop ends the wait
	}
	defer st.Close()
	res, _ := w.o.Unreachable(w.a.env(st), source, w.command, cause, true)
	if res != nil && res.Run != nil {
		w.logf("%s: journaled the failed read as run %d", source, res.Run.ID)
	}
}

func (w *watcher) logf(format string, args ...any) {
	fmt.Fprintf(w.a.stderr, "%s usersync: %s\n", time.Now().Format(time.DateTime), fmt.Sprintf(format, args...))
}

// sleep waits d, or less when ctx is done; it reports whether ctx is not.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// isLDAP reports whether source is a configured LDAP directory: the only
// kind that may offer a persistent change search.
func (a *app) isLDAP(source string) bool {
	cfg, err := a.config()
	if err != nil {
		return false
	}
	_, ok := cfg.ldapConfig(source)
	return ok
}

// openStoreWait opens the store (read-only, or to write), waiting while
// another usersync process holds it (a TUI, a sync from cron): it says so
// once, and tries again with a growing pause until ctx is done.
func (a *app) openStoreWait(ctx context.Context, readOnly bool) (*store.Store, error) {
	path, err := a.resolvedStorePath()
	if err != nil {
		return nil, err
	}
	var opts store.OpenOptions
	if !readOnly && a.storeOptions != nil {
		opts = *a.storeOptions
	}
	opts.ReadOnly = readOnly
	pause, told := 50*time.Millisecond, false
	for {
		st, err := store.Open(path, &opts)
		if err == nil {
			if told {
				fmt.Fprintf(a.stderr, "%s usersync: the store is free again\n", time.Now().Format(time.DateTime))
			}
			return st, nil
		}
		if !errors.Is(err, store.ErrInUse) {
			return nil, storeOpenError(path, err)
		}
		if !told {
			told = true
			fmt.Fprintf(a.stderr, "%s usersync: %s is in use by another usersync process (a TUI, 'usersync serve', a sync from cron); waiting for it\n", time.Now().Format(time.DateTime), path)
		}
		if !sleep(ctx, pause) {
			return nil, ctx.Err()
		}
		pause = min(2*pause, time.Second)
	}
}

// storeReader is what a watch's read asks of the store: it opens the
// store read-only when the read first needs it, and release closes it
// again — releasing (the directory's wrapper) does so before every call to
// the directory, so that the store is never held while the directory is
// read.
type storeReader struct {
	a   *app
	ctx context.Context
	st  *store.Store
}

var _ importer.StoreReader = (*storeReader)(nil)

func (r *storeReader) open() (*store.Store, error) {
	if r.st == nil {
		st, err := r.a.openStoreWait(r.ctx, true)
		if err != nil {
			return nil, err
		}
		r.st = st
	}
	return r.st, nil
}

// release closes the store if it is open.
func (r *storeReader) release() {
	if r.st != nil {
		r.st.Close()
		r.st = nil
	}
}

func (r *storeReader) Departed(source string, read *directory.GroupRead) ([]string, error) {
	st, err := r.open()
	if err != nil {
		return nil, err
	}
	return st.Departed(source, read)
}

func (r *storeReader) GroupsHolding(source string, userExtIDs []string) (map[string]bool, error) {
	st, err := r.open()
	if err != nil {
		return nil, err
	}
	return st.GroupsHolding(source, userExtIDs)
}

func (r *storeReader) MembersAmong(source, groupExt string, userExtIDs []string) (map[string]bool, error) {
	st, err := r.open()
	if err != nil {
		return nil, err
	}
	return st.MembersAmong(source, groupExt, userExtIDs)
}

func (r *storeReader) MemberEntries(source, externalID string) ([]directory.Entry, error) {
	st, err := r.open()
	if err != nil {
		return nil, err
	}
	return st.MemberEntries(source, externalID)
}

// releasing wraps dir so that the store r holds is closed before each
// call to the directory; a change feed stays one.
func releasing(dir directory.Directory, r *storeReader) directory.Directory {
	d := releasingDir{dir: dir, r: r}
	if feed, ok := dir.(directory.ChangeFeed); ok {
		return releasingFeed{releasingDir: d, feed: feed}
	}
	return d
}

type releasingDir struct {
	dir directory.Directory
	r   *storeReader
}

func (d releasingDir) Name() string         { return d.dir.Name() }
func (d releasingDir) Kind() directory.Kind { return d.dir.Kind() }
func (d releasingDir) Close() error         { return d.dir.Close() }

func (d releasingDir) Search(ctx context.Context, query string, fn func(directory.Entry) error) error {
	d.r.release()
	return d.dir.Search(ctx, query, fn)
}

func (d releasingDir) ReadGroup(ctx context.Context, externalID string) (*directory.GroupRead, error) {
	d.r.release()
	return d.dir.ReadGroup(ctx, externalID)
}

func (d releasingDir) LookupUsers(ctx context.Context, externalIDs []string) (map[string]directory.Entry, error) {
	d.r.release()
	return d.dir.LookupUsers(ctx, externalIDs)
}

type releasingFeed struct {
	releasingDir
	feed directory.ChangeFeed
}

func (d releasingFeed) FeedCookie(ctx context.Context) ([]byte, error) {
	d.r.release()
	return d.feed.FeedCookie(ctx)
}

func (d releasingFeed) Changes(ctx context.Context, cookie []byte) (*directory.Changes, error) {
	d.r.release()
	return d.feed.Changes(ctx, cookie)
}
