package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// searchReq is one search as stream runs it.
type searchReq struct {
	base   string
	scope  int
	filter string
	attrs  []string
	// noPaging sends no paged-results control (root DSE, base-object reads).
	noPaging bool
}

// stream runs req, page after page, and calls fn for every entry as it
// arrives, so memory stays flat however many entries match. It returns the
// referrals (search continuation references) it saw.
//
// Any way the search can end short is an error wrapping
// directory.ErrIncomplete: a size, time or administrative limit, a
// referral in place of a result, a lost connection, a server silent for
// longer than the timeout, a cancelled ctx. An error from fn is returned
// as it is.
//
// The timeout counts only the time spent waiting for the server with
// nothing arriving (see watchConn): a search that keeps streaming is never
// cut, and time spent in fn never counts. A silent server's connection is
// closed: it cannot be used for anything else.
//
// Paged searches run on the session's bulk connection (see bulkConn), the
// others (base-object reads) through go-ldap.
func (d *Directory) stream(ctx context.Context, conn *session, req searchReq, fn func(*goldap.Entry) error) ([]string, error) {
	if d.bulk(req) {
		return d.streamBulk(ctx, conn, req, func(v *entryView) error { return fn(v.entry()) })
	}
	var (
		refs    []string
		n       int
		paging  *goldap.ControlPaging
		control []goldap.Control
	)
	if d.paging && !req.noPaging {
		paging = goldap.NewControlPaging(uint32(d.pageSize))
		control = []goldap.Control{paging}
	}
	for {
		pctx, cancel := context.WithCancel(ctx)
		sr := goldap.NewSearchRequest(req.base, req.scope, goldap.NeverDerefAliases, 0, 0, false,
			req.filter, req.attrs, control)
		resp := conn.SearchAsync(pctx, sr, d.pageSize+64)

		var (
			cookie    []byte
			sawPaging bool
		)
		for conn.next(resp) {
			if ctx.Err() != nil {
				break // abandoned: deliver nothing more
			}
			if e := resp.Entry(); e != nil {
				n++
				if err := fn(e); err != nil {
					cancel()
					return refs, err
				}
			}
			if ref := resp.Referral(); ref != "" {
				refs = append(refs, ref)
			}
			if c := goldap.FindControl(resp.Controls(), goldap.ControlTypePaging); c != nil {
				if pc, ok := c.(*goldap.ControlPaging); ok {
					sawPaging, cookie = true, pc.Cookie
				}
			}
		}
		err := resp.Err()
		cancel()

		switch {
		case ctx.Err() == nil && conn.stalled():
			return refs, &directory.IncompleteError{Reason: d.c.noAnswer(fmt.Sprintf("after %d entries", n)).Error()}
		case err != nil:
			return refs, d.searchError(req, n, err)
		case ctx.Err() != nil:
			return refs, &directory.IncompleteError{Reason: fmt.Sprintf("cancelled after %d entries", n), Err: ctx.Err()}
		case !sawPaging && conn.IsClosing():
			// go-ldap ends a search on a closed connection without an
			// error; only a final result (with its paging control) proves
			// the search finished.
			cause := conn.GetLastError()
			reason := fmt.Sprintf("the connection to %s was lost after %d entries", d.c.hostport, n)
			return refs, &directory.IncompleteError{Reason: reason, Err: cause}
		}
		if paging == nil || !sawPaging || len(cookie) == 0 {
			return refs, nil
		}
		paging.SetCookie(cookie)
	}
}

// streamView is stream handing fn a view of each entry, valid only during
// the call: what fn keeps, it copies.
func (d *Directory) streamView(ctx context.Context, conn *session, req searchReq, fn func(*entryView) error) ([]string, error) {
	if d.bulk(req) {
		return d.streamBulk(ctx, conn, req, fn)
	}
	return d.stream(ctx, conn, req, func(e *goldap.Entry) error { return fn(viewOf(e)) })
}

// bulk reports whether req runs on the bulk connection: every paged
// search.
func (d *Directory) bulk(req searchReq) bool { return !req.noPaging && !d.goldapOnly }

// streamBulk is stream on a bulk connection of the session's.
func (d *Directory) streamBulk(ctx context.Context, conn *session, req searchReq, fn func(*entryView) error) ([]string, error) {
	pageSize := 0
	if d.paging {
		pageSize = d.pageSize
	}
	var (
		refs  []string
		fnErr error
	)
	n, stalled, err := conn.bulk.search(ctx, d.c, req, pageSize, func(v *entryView) error {
		fnErr = fn(v)
		return fnErr
	}, func(ref string) { refs = append(refs, ref) })

	var open *bulkOpenError
	switch {
	case fnErr != nil:
		return refs, fnErr
	case ctx.Err() == nil && stalled:
		return refs, &directory.IncompleteError{Reason: d.c.noAnswer(fmt.Sprintf("after %d entries", n)).Error()}
	case ctx.Err() != nil:
		return refs, &directory.IncompleteError{Reason: fmt.Sprintf("cancelled after %d entries", n), Err: ctx.Err()}
	case errors.As(err, &open) && errors.As(err, new(*noAnswerError)):
		return nil, &directory.IncompleteError{Reason: "connecting for the search under " + req.base, Err: open.err}
	case open != nil:
		return nil, fmt.Errorf("connecting for the search under %s: %w", req.base, open.err)
	case err != nil:
		return refs, d.searchError(req, n, err)
	}
	return refs, nil
}

// searchError says what ended a search early, for a person: limits,
// referrals and lost connections wrap directory.ErrIncomplete.
func (d *Directory) searchError(req searchReq, n int, err error) error {
	var le *goldap.Error
	detail := ""
	if errors.As(err, &le) && le.Err != nil && le.Err.Error() != "" {
		detail = ": " + le.Err.Error()
	}
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded):
		return &directory.IncompleteError{Reason: fmt.Sprintf("the server's size limit stopped the search under %s after %d entries", req.base, n), Err: err}
	case goldap.IsErrorWithCode(err, goldap.LDAPResultTimeLimitExceeded):
		return &directory.IncompleteError{Reason: fmt.Sprintf("the server's time limit stopped the search under %s after %d entries", req.base, n), Err: err}
	case goldap.IsErrorWithCode(err, goldap.LDAPResultAdminLimitExceeded):
		return &directory.IncompleteError{Reason: fmt.Sprintf("an administrative limit of the server stopped the search under %s after %d entries", req.base, n), Err: err}
	case goldap.IsErrorWithCode(err, goldap.LDAPResultReferral):
		return &directory.IncompleteError{Reason: fmt.Sprintf("the server referred the search under %s to another server, which usersync does not follow%s", req.base, detail), Err: err}
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return fmt.Errorf("%s does not exist on %s — check base_dn, user_base_dn and group_base_dn: %w", req.base, d.c.hostport, err)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights):
		return fmt.Errorf("the bind account may not search under %s: %w", req.base, err)
	case goldap.IsErrorWithCode(err, goldap.ErrorNetwork) || isLostConnection(err):
		return &directory.IncompleteError{Reason: fmt.Sprintf("the connection to %s was lost after %d entries", d.c.hostport, n), Err: err}
	case goldap.IsErrorWithCode(err, goldap.LDAPResultUnavailableCriticalExtension):
		return fmt.Errorf("search under %s: the server does not support paged results: %w", req.base, err)
	default:
		return fmt.Errorf("the search under %s failed after %d entries: %w", req.base, n, err)
	}
}

func isLostConnection(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "connection closed") || strings.Contains(msg, "response channel closed") ||
		strings.Contains(msg, "unable to read LDAP response") || strings.Contains(msg, "could not retrieve response")
}
