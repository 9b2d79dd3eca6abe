package ldap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory"
)

// Active Directory's change feed is DirSync where the bind account may use
// it, and uSNChanged on one domain controller where it may not.
//
// DirSync (control 1.2.840.113556.1.4.841, without the object-security
// flag) needs the "Replicating Directory Changes" right
// (DS-Replication-Get-Changes) on the naming context, and then reports
// deletions: tombstones with isDeleted. With the object-security flag any
// account may use it, but then tombstones are not reported (measured on
// Samba 4.17: an ordinary account sees the modifications, never the
// deletion), so usersync never sets that flag. What DirSync sends (Samba
// 4.17, as Windows documents it):
//   - the whole naming context must be the base; the filter is applied,
//     and an object comes only when one of the requested attributes
//     changed, with just those attributes (and objectGUID): every changed
//     object is read again by its objectGUID under the configured base
//     and filter — one not found there any more is deleted as far as the
//     configuration reads (moved out, no longer a user);
//   - a deleted object comes as a tombstone (isDeleted TRUE, under
//     CN=Deleted Objects) whose objectClass survives but not its
//     objectCategory: the DirSync filter is on objectClass only;
//   - a group losing a member through that member's deletion is not
//     reported, and its uSNChanged does not change: the caller removes
//     the deleted IDs from its memberships itself (as for slapd's refint);
//   - a cookie it cannot parse: unavailableCriticalExtension; a cookie of
//     another DC resumes from the DC's own history (its up-to-dateness
//     vector), at worst from the start.
//
// uSNChanged is per domain controller: a USN means nothing on another DC,
// nor on the same DC after a restore (its invocationId changes then). The
// cookie names the DC (dsServiceName) and its invocationId with the
// highest committed USN; a cookie from another DC or invocation is
// refused. Deletions leave no trace an ordinary account can read (the
// tombstones are hidden from it, and the groups they left do not change),
// so each read also lists the objectGUIDs of everything in scope (a
// present set, as syncrepl's present phase): O(directory) IDs, the price
// of the missing right.
//
// On both, a user's primary group (primaryGroupID) is not in the group's
// member: a changed group that is some user's primary group, and the
// primary group of a changed user, are reported in Changes.Reread.

// oidDirSync is the DirSync control.
const oidDirSync = goldap.ControlTypeDirSync

// The modes of an Active Directory feed cookie.
const (
	adModeDirSync = "dirsync"
	adModeUSN     = "usn"
)

const adCookieFormat = "usersync-ad-feed/1"

// adCookie is an Active Directory feed cookie: the searches it was taken
// for (Parts, without server cookies) and either DirSync's cookie for the
// naming context NC, or the DC, its invocation and its highest committed
// USN.
type adCookie struct {
	Mode  string       `json:"mode"`
	Parts []cookiePart `json:"parts"`

	NC      string `json:"nc,omitempty"`
	DirSync []byte `json:"dirsync,omitempty"`

	DC           string `json:"dc,omitempty"`
	InvocationID string `json:"invocation_id,omitempty"`
	USN          int64  `json:"usn,omitempty"`
	// Why says why the feed is not DirSync.
	Why string `json:"why,omitempty"`
}

// adFeed reports whether the directory's change feed is Active
// Directory's (DirSync or uSNChanged) rather than RFC 4533's.
func (d *Directory) adFeed() bool { return d.ad }

// adNoFeed says why this Active Directory has no change feed, or nil.
func (d *Directory) adNoFeed() error {
	if d.sch.idKind != idGUID {
		return fmt.Errorf("%s: %w: Active Directory's change feed names entries by objectGUID and external_id is %s, so usersync reads it fully",
			d.label(), directory.ErrNoFeed, d.sch.externalID)
	}
	return nil
}

// adParts are the configured searches as the cookie records them.
func (d *Directory) adParts() []cookiePart {
	var out []cookiePart
	for _, p := range d.feedParts() {
		out = append(out, cookiePart{Type: p.typ, Base: p.base, Filter: p.filter})
	}
	return out
}

// adFeedParts are the feed's searches with what the primary groups need:
// the users' primaryGroupID and objectSid, the groups' objectSid.
func (d *Directory) adFeedParts() []feedPart {
	parts := d.feedParts()
	parts[0].attrs = dedupFold(append(append([]string(nil), parts[0].attrs...), "primaryGroupID", "objectSid"))
	parts[1].attrs = dedupFold(append(append([]string(nil), parts[1].attrs...), "objectSid"))
	return parts
}

// dcState is what the root DSE and the DC's NTDS Settings say.
type dcState struct {
	service      string // dsServiceName
	invocationID string
	usn          int64 // highestCommittedUSN
	contexts     []string
	defaultNC    string
}

// readDC reads the DC's identity and highest committed USN.
func (d *Directory) readDC(ctx context.Context, conn *session) (*dcState, error) {
	st := &dcState{}
	var found bool
	_, err := d.stream(ctx, conn, searchReq{
		base: "", scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
		attrs: []string{"dsServiceName", "highestCommittedUSN", "namingContexts", "defaultNamingContext"}, noPaging: true,
	}, func(e *goldap.Entry) error {
		found = true
		st.service = e.GetEqualFoldAttributeValue("dsServiceName")
		st.contexts = e.GetEqualFoldAttributeValues("namingContexts")
		st.defaultNC = e.GetEqualFoldAttributeValue("defaultNamingContext")
		st.usn, _ = strconv.ParseInt(strings.TrimSpace(e.GetEqualFoldAttributeValue("highestCommittedUSN")), 10, 64)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the root DSE of %s: %w", d.label(), err)
	}
	if !found || st.service == "" || st.usn <= 0 {
		return nil, fmt.Errorf("%s: %w: its root DSE names no dsServiceName or highestCommittedUSN, so usersync reads it fully", d.label(), directory.ErrNoFeed)
	}
	_, err = d.stream(ctx, conn, searchReq{
		base: st.service, scope: goldap.ScopeBaseObject, filter: "(objectClass=*)",
		attrs: []string{"invocationId"}, noPaging: true,
	}, func(e *goldap.Entry) error {
		if id, err := DecodeGUID(e.GetEqualFoldRawAttributeValue("invocationId")); err == nil {
			st.invocationID = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the invocationId of %s on %s: %w", st.service, d.label(), err)
	}
	if st.invocationID == "" {
		return nil, fmt.Errorf("%s: %w: the invocationId of %s cannot be read, so usersync cannot tell this DC's USNs from another's and reads it fully", d.label(), directory.ErrNoFeed, st.service)
	}
	return st, nil
}

// dirSyncBase is the naming context holding both the user and the group
// base (DirSync's base must be a naming context), or why there is none.
func (d *Directory) dirSyncBase(st *dcState) (string, string) {
	if !d.dirSyncControl {
		return "", "the server does not offer the DirSync control"
	}
	ub, err1 := goldap.ParseDN(d.userBase)
	gb, err2 := goldap.ParseDN(d.groupBase)
	if err1 != nil || err2 != nil {
		return "", "the bases are not DNs"
	}
	best, bestLen := "", -1
	for _, nc := range append(append([]string(nil), st.contexts...), st.defaultNC) {
		p, err := goldap.ParseDN(nc)
		if err != nil || nc == "" {
			continue
		}
		if under(ub, p) && under(gb, p) && len(p.RDNs) > bestLen {
			best, bestLen = nc, len(p.RDNs)
		}
	}
	if best == "" {
		return "", "the user and group bases are not in one naming context"
	}
	return best, ""
}

// errDirSyncDenied marks a DirSync search the server refused to the bind
// account: the feed uses uSNChanged instead.
var errDirSyncDenied = errors.New("DirSync refused")

// adFeedCookie is FeedCookie on Active Directory: a DirSync cookie where
// the bind account may use DirSync (a DirSync of the whole naming context,
// every entry read and dropped), else the DC's highest committed USN.
func (d *Directory) adFeedCookie(ctx context.Context) ([]byte, error) {
	if err := d.adNoFeed(); err != nil {
		return nil, err
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	st, err := d.readDC(ctx, conn)
	if err != nil {
		return nil, err
	}
	c := adCookie{Parts: d.adParts()}
	nc, why := d.dirSyncBase(st)
	if nc != "" {
		next, _, err := d.dirSync(ctx, conn, nc, nil, nil)
		switch {
		case err == nil:
			c.Mode, c.NC, c.DirSync = adModeDirSync, nc, next
			return sealCookie(adCookieFormat, c), nil
		case errors.Is(err, errDirSyncDenied):
			why = err.Error()
		default:
			return nil, fmt.Errorf("take a DirSync cookie from %s: %w", d.label(), err)
		}
	}
	c.Mode, c.DC, c.InvocationID, c.USN, c.Why = adModeUSN, st.service, st.invocationID, st.usn, why
	return sealCookie(adCookieFormat, c), nil
}

// dirSyncAttrs are the attributes DirSync is asked for: an object comes
// when one of them changed. Everything a user or group maps, its primary
// group, isDeleted (deletions) and name (renames and moves).
func (d *Directory) dirSyncAttrs() []string {
	var a []string
	for _, p := range d.adFeedParts() {
		a = append(a, p.attrs...)
	}
	return dedupFold(append(a, "isDeleted", "name"))
}

// dirSyncFilter matches users and groups, tombstones included (they keep
// objectClass, not objectCategory).
func (d *Directory) dirSyncFilter() string {
	return "(|" + classFilter(d.sch.userClasses) + classFilter(d.sch.groupClasses) + ")"
}

// dirSync runs DirSync on naming context nc from cookie (nil: from the
// start) until the server has no more, handing fn every object, and
// returns the last cookie and the number of objects. A refusal wraps
// errDirSyncDenied (without a cookie) or directory.ErrCookieRefused (with
// one); every way it can end short wraps directory.ErrIncomplete.
func (d *Directory) dirSync(ctx context.Context, conn *session, nc string, cookie []byte, fn func(*goldap.Entry)) ([]byte, int, error) {
	n := 0
	req := searchReq{base: nc, scope: goldap.ScopeWholeSubtree, filter: d.dirSyncFilter(), attrs: d.dirSyncAttrs(), noPaging: true}
	for round := 0; ; round++ {
		pctx, cancel := context.WithCancel(ctx)
		sr := goldap.NewSearchRequest(req.base, req.scope, goldap.NeverDerefAliases, 0, 0, false, req.filter, req.attrs, nil)
		resp := conn.DirSyncAsync(pctx, sr, d.pageSize+64, 0, 0, cookie)
		var (
			done *goldap.ControlDirSync
			refs []string
		)
		for conn.next(resp) {
			if ctx.Err() != nil {
				break
			}
			if e := resp.Entry(); e != nil {
				n++
				if fn != nil {
					fn(e)
				}
				continue
			}
			if ref := resp.Referral(); ref != "" {
				refs = append(refs, ref)
			}
			if c, ok := goldap.FindControl(resp.Controls(), oidDirSync).(*goldap.ControlDirSync); ok {
				done = c
			}
		}
		err := resp.Err()
		cancel()
		switch {
		case ctx.Err() == nil && conn.stalled():
			return nil, n, &directory.IncompleteError{Reason: d.c.noAnswer(fmt.Sprintf("after %d entries of DirSync", n)).Error()}
		case err != nil:
			return nil, n, d.dirSyncError(req, len(cookie) > 0, n, err)
		case ctx.Err() != nil:
			return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("cancelled after %d entries of DirSync", n), Err: ctx.Err()}
		case done == nil && conn.IsClosing():
			return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("the connection to %s was lost after %d entries of DirSync", d.c.hostport, n), Err: conn.GetLastError()}
		case done == nil:
			return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("DirSync under %s ended without its DirSync control after %d entries", nc, n)}
		case referralsMatter(refs):
			return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("DirSync under %s was referred to %s, which usersync does not follow", nc, strings.Join(refs, ", "))}
		case len(done.Cookie) == 0:
			return nil, n, &directory.IncompleteError{Reason: fmt.Sprintf("DirSync under %s sent no cookie", nc)}
		}
		cookie = done.Cookie
		if done.Flags == 0 { // no more data
			return cookie, n, nil
		}
	}
}

// dirSyncError says what ended a DirSync search.
func (d *Directory) dirSyncError(req searchReq, withCookie bool, n int, err error) error {
	server := ""
	var le *goldap.Error
	if errors.As(err, &le) && le.Err != nil && le.Err.Error() != "" {
		server = " (the server says: " + le.Err.Error() + ")"
	}
	denied := goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights)
	rejected := goldap.IsErrorWithCode(err, goldap.LDAPResultUnavailableCriticalExtension) ||
		goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform) ||
		goldap.IsErrorWithCode(err, goldap.LDAPResultProtocolError)
	switch {
	case denied && withCookie:
		return fmt.Errorf("%w: the bind account may no longer use DirSync on %s%s — usersync reads fully, then uses uSNChanged (grant it \"Replicating Directory Changes\" to use DirSync again)", directory.ErrCookieRefused, req.base, server)
	case rejected && withCookie:
		return fmt.Errorf("%w: the server rejects the DirSync cookie for %s%s — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, req.base, server)
	case denied:
		return fmt.Errorf("%w: the bind account may not use DirSync on %s (it lacks \"Replicating Directory Changes\"%s)", errDirSyncDenied, req.base, server)
	case rejected:
		return fmt.Errorf("%w: the server will not run DirSync on %s%s", errDirSyncDenied, req.base, server)
	}
	return d.searchError(req, n, err)
}

// adChanges is Changes on Active Directory.
func (d *Directory) adChanges(ctx context.Context, cookie []byte) (*directory.Changes, error) {
	if err := d.adNoFeed(); err != nil {
		return nil, err
	}
	var held adCookie
	err := openCookie(adCookieFormat, cookie, &held)
	if err == nil {
		err = matchParts(held.Parts, d.feedParts())
	}
	if err == nil && held.Mode != adModeDirSync && held.Mode != adModeUSN {
		err = fmt.Errorf("the cookie's mode %q is unknown", held.Mode)
	}
	if err != nil {
		return nil, d.refusedCookie(err)
	}
	ctx, cancel := d.opContext(ctx)
	defer cancel()
	conn, err := d.client(ctx)
	if err != nil {
		return nil, err
	}
	fr := d.newFeedRead(conn)
	ar := &adRead{feedRead: fr, primary: map[string]bool{}}
	next := held
	var via string
	if held.Mode == adModeDirSync {
		next.DirSync, err = ar.dirSyncChanges(ctx, held)
		via = "DirSync"
		if ar.blind {
			via = "DirSync; the bind account sees no tombstones, so deletions are found by listing every objectGUID in scope"
		}
	} else {
		next.USN, err = ar.usnChanges(ctx, held)
		via = fmt.Sprintf("uSNChanged on %s", dcName(held.DC))
		if held.Why != "" {
			via += " (" + strings.TrimPrefix(held.Why, errDirSyncDenied.Error()+": ") + ")"
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read changes from %s: %w", d.label(), err)
	}
	steps := []func(context.Context) error{ar.unrange, fr.resolveMembers, ar.primaryGroups}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("read changes from %s: %w", d.label(), err)
		}
	}
	out := &directory.Changes{
		Cookie:  sealCookie(adCookieFormat, next),
		Entries: fr.entries,
		Members: fr.members,
		Deleted: fr.deleted,
		Reread:  ar.reread,
		Reads:   fr.reads,
		Via:     via,
	}
	if fr.presentMode {
		out.Present = fr.present
	}
	return out, nil
}

// dcName is a DC's name from its dsServiceName (CN=NTDS
// Settings,CN=DC01,CN=Servers,…: DC01).
func dcName(service string) string {
	p, err := goldap.ParseDN(service)
	if err != nil || len(p.RDNs) < 2 || len(p.RDNs[1].Attributes) == 0 {
		return service
	}
	return p.RDNs[1].Attributes[0].Value
}

// adRead is one Changes call on Active Directory.
type adRead struct {
	*feedRead
	// primary are the primaryGroupID values (RIDs) of the changed users.
	primary map[string]bool
	// domainSID is the domain's SID, from a changed user's objectSid.
	domainSID string
	// sids are the objectSids of the changed groups, by folded ID.
	sids   map[string]string
	reread []string
	// blind is true when DirSync's account sees no tombstones.
	blind bool
}

// take records an entry of part p as it is now.
func (ar *adRead) take(p feedPart, e *goldap.Entry) {
	out, _ := p.entry(e) // an entry without its ID is an error row
	ar.add(p.typ, e, out)
	sid, err := decodeSID(e.GetEqualFoldRawAttributeValue("objectSid"))
	if err != nil || out.ExternalID == "" {
		return
	}
	if p.typ == directory.TypeUser {
		if rid := strings.TrimSpace(e.GetEqualFoldAttributeValue("primaryGroupID")); rid != "" {
			ar.primary[rid] = true
		}
		if i := strings.LastIndexByte(sid, '-'); i > 0 {
			ar.domainSID = sid[:i]
		}
		return
	}
	if ar.sids == nil {
		ar.sids = map[string]string{}
	}
	ar.sids[idKey(out.ExternalID)] = sid
}

// dirSyncChanges reads the changes since held's DirSync cookie: the
// tombstones are deleted; every other changed object is read again by its
// objectGUID under the configured bases and filters, and one no longer
// found there is deleted as far as the configuration goes.
func (ar *adRead) dirSyncChanges(ctx context.Context, held adCookie) ([]byte, error) {
	d := ar.d
	var changed []string
	seen := map[string]bool{}
	next, n, err := d.dirSync(ctx, ar.conn, held.NC, held.DirSync, func(e *goldap.Entry) {
		id, err := DecodeGUID(e.GetEqualFoldRawAttributeValue("objectGUID"))
		if err != nil {
			return // not an object usersync could hold
		}
		k := idKey(id)
		if strings.EqualFold(strings.TrimSpace(e.GetEqualFoldAttributeValue("isDeleted")), "TRUE") {
			ar.candidate(k)
			return
		}
		if !seen[k] {
			seen[k] = true
			changed = append(changed, k)
		}
	})
	ar.reads += n
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	if len(changed) > 0 {
		for _, p := range d.adFeedParts() {
			err := ar.byIDs(ctx, p.base, p.filter, p.attrs, changed, func(e *goldap.Entry) {
				ar.take(p, e)
				if id, err := d.sch.externalIDOf(e); err == nil {
					found[idKey(id)] = true
				}
			})
			if err != nil {
				return nil, fmt.Errorf("reading %d changed entries: %w", len(changed), err)
			}
		}
	}
	for _, k := range changed {
		if !found[k] {
			ar.candidate(k) // moved out of the bases, or no longer a user or group
		}
	}
	for _, k := range ar.candOrder {
		if !found[k] {
			ar.deleted = append(ar.deleted, k)
		}
	}
	sees, err := d.seesTombstones(ctx, ar.conn, held.NC)
	if err != nil {
		return nil, err
	}
	if !sees {
		ar.blind = true
		if err := ar.listPresent(ctx); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// usnChanges reads the entries changed on held's DC since its USN, and
// the objectGUIDs of everything in scope (Present). It returns the DC's
// highest committed USN read before the searches: what changes during
// them is read again next time.
func (ar *adRead) usnChanges(ctx context.Context, held adCookie) (int64, error) {
	d := ar.d
	st, err := d.readDC(ctx, ar.conn)
	switch {
	case errors.Is(err, directory.ErrNoFeed):
		return 0, fmt.Errorf("%w: %v", directory.ErrCookieRefused, err)
	case err != nil:
		return 0, err
	case !sameDN(st.service, held.DC):
		return 0, fmt.Errorf("%w: the cookie holds a USN of DC %s and %s is DC %s now (uSNChanged is per domain controller) — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, dcName(held.DC), d.label(), dcName(st.service))
	case !strings.EqualFold(st.invocationID, held.InvocationID):
		return 0, fmt.Errorf("%w: DC %s has another invocationId than when the cookie was taken (restored from a backup?), so its USNs are not comparable — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, dcName(st.service))
	case st.usn < held.USN:
		return 0, fmt.Errorf("%w: DC %s's highest committed USN (%d) is below the cookie's (%d) — usersync reads fully and takes a new cookie", directory.ErrCookieRefused, dcName(st.service), st.usn, held.USN)
	}
	for _, p := range d.adFeedParts() {
		filter := "(&" + p.filter + "(uSNChanged>=" + strconv.FormatInt(held.USN+1, 10) + "))"
		refs, err := d.stream(ctx, ar.conn, searchReq{base: p.base, scope: goldap.ScopeWholeSubtree, filter: filter, attrs: p.attrs},
			func(e *goldap.Entry) error {
				ar.reads++
				ar.take(p, e)
				return nil
			})
		if err == nil {
			err = unfollowed(refs)
		}
		if err != nil {
			return 0, fmt.Errorf("reading what changed under %s: %w", p.base, err)
		}
	}
	if err := ar.listPresent(ctx); err != nil {
		return 0, err
	}
	return st.usn, nil
}

// listPresent lists the objectGUIDs of everything in the feed's scope
// (Present): how deletions are seen when the bind account cannot see
// tombstones.
func (ar *adRead) listPresent(ctx context.Context) error {
	d := ar.d
	ar.present = map[string]bool{}
	ar.presentMode = true
	for _, p := range d.feedParts() {
		refs, err := d.stream(ctx, ar.conn, searchReq{base: p.base, scope: goldap.ScopeWholeSubtree, filter: p.filter, attrs: []string{d.sch.externalID}},
			func(e *goldap.Entry) error {
				ar.reads++
				if id, err := d.sch.externalIDOf(e); err == nil {
					ar.present[idKey(id)] = true
				}
				return nil
			})
		if err == nil {
			err = unfollowed(refs)
		}
		if err != nil {
			return fmt.Errorf("listing what is present under %s: %w", p.base, err)
		}
	}
	for _, e := range ar.entries {
		if e.ExternalID != "" {
			ar.present[idKey(e.ExternalID)] = true
		}
	}
	return nil
}

// oidShowDeleted is the LDAP_SERVER_SHOW_DELETED control.
const oidShowDeleted = "1.2.840.113556.1.4.417"

// seesTombstones reports whether the bind account can read the tombstones
// of deleted users or groups in naming context nc: a search for one, with
// the show-deleted control, that finds one. Samba 4.17 sends DirSync's
// tombstones only to accounts that can read them (the Domain Admins), not
// to one merely granted "Replicating Directory Changes"; an account that
// sees none (or a domain with none) has its deletions found by a present
// set instead.
func (d *Directory) seesTombstones(ctx context.Context, conn *session, nc string) (bool, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sr := goldap.NewSearchRequest(nc, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 1, 0, false,
		"(&(isDeleted=TRUE)"+d.dirSyncFilter()+")", []string{"1.1"}, []goldap.Control{goldap.NewControlString(oidShowDeleted, true, "")})
	resp := conn.SearchAsync(pctx, sr, 4)
	found := false
	for conn.next(resp) {
		if resp.Entry() != nil {
			found = true
		}
	}
	err := resp.Err()
	switch {
	case found:
		return true, nil
	case ctx.Err() == nil && conn.stalled():
		return false, &directory.IncompleteError{Reason: d.c.noAnswer("looking for tombstones").Error()}
	case err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded):
		return false, nil // the control or the search refused: no tombstones seen
	}
	return false, nil
}

// unrange reads whole the member values of the changed groups that came
// in ranges (Windows sends 1500 values at a time).
func (ar *adRead) unrange(ctx context.Context) error {
	s := ar.d.sch
	for _, g := range ar.groups {
		if s.memberCount(viewOf(g)) >= 0 {
			continue
		}
		r := newMemberReader(ar.d, ar.conn)
		for _, attr := range s.memberAttrs {
			vals := r.values(ctx, g, attr)
			if len(r.reasons) > 0 {
				return &directory.IncompleteError{Reason: r.reason()}
			}
			kept := g.Attributes[:0]
			for _, a := range g.Attributes {
				if name, _, _, _ := splitAttr(a.Name); !strings.EqualFold(name, attr) {
					kept = append(kept, a)
				}
			}
			g.Attributes = append(kept, &goldap.EntryAttribute{Name: attr, Values: vals})
		}
	}
	return nil
}

// primaryGroups finds the groups whose membership member cannot tell:
// the changed groups that are some user's primary group, and the primary
// groups of the changed users.
func (ar *adRead) primaryGroups(ctx context.Context) error {
	d, s := ar.d, ar.d.sch
	if !s.primaryGroup {
		return nil
	}
	reread := map[string]bool{}
	for _, e := range ar.entries {
		sid := ar.sids[idKey(e.ExternalID)]
		if e.Type != directory.TypeGroup || sid == "" {
			continue
		}
		rid := sid[strings.LastIndexByte(sid, '-')+1:]
		found := false
		errFound := errors.New("found")
		_, err := d.stream(ctx, ar.conn, searchReq{base: d.userBase, scope: goldap.ScopeWholeSubtree, filter: s.primaryGroupFilter(rid), attrs: []string{"1.1"}},
			func(*goldap.Entry) error { found = true; return errFound })
		ar.reads++
		if err != nil && !errors.Is(err, errFound) {
			return fmt.Errorf("looking for the users whose primary group is %s: %w", e.Name, err)
		}
		if found && !reread[idKey(e.ExternalID)] {
			reread[idKey(e.ExternalID)] = true
			ar.reread = append(ar.reread, e.ExternalID)
		}
	}
	if len(ar.primary) == 0 || ar.domainSID == "" {
		return nil
	}
	var b strings.Builder
	for rid := range ar.primary {
		b.WriteString("(objectSid=" + goldap.EscapeFilter(ar.domainSID+"-"+rid) + ")")
	}
	refs, err := d.stream(ctx, ar.conn, searchReq{base: d.groupBase, scope: goldap.ScopeWholeSubtree,
		filter: "(&" + s.groupFilter + "(|" + b.String() + "))", attrs: []string{s.externalID}},
		func(e *goldap.Entry) error {
			ar.reads++
			if id, err := s.externalIDOf(e); err == nil && !reread[idKey(id)] {
				reread[idKey(id)] = true
				ar.reread = append(ar.reread, id)
			}
			return nil
		})
	if err == nil {
		err = unfollowed(refs)
	}
	if err != nil {
		return fmt.Errorf("looking up the primary groups of the changed users: %w", err)
	}
	return nil
}

// decodeSID writes a binary SID (objectSid) as S-1-5-21-….
func decodeSID(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", errors.New("not a SID")
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-1-" + strconv.FormatUint(auth, 10))
	for i := range int(b[1]) {
		sb.WriteString("-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}
