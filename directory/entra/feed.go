package entra

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/usersync/usersync/directory"
)

// The change feed is Microsoft Graph's delta query, on /users/delta and
// /groups/delta, tenant-wide:
//
//   - FeedCookie asks both for $deltatoken=latest: Graph answers at once
//     with an empty page and a deltaLink for the tenant as it is now, so
//     no entry is read (two requests, whatever the tenant's size);
//   - Changes follows both deltaLinks, and every @odata.nextLink after
//     them, to the new deltaLinks: users with the properties the adapter
//     maps ($select as Search and ReadGroup), groups with id, displayName,
//     mail and members — Graph then annotates a group whose membership
//     changed with members@delta, the members added, and those removed
//     marked @removed. A user or group deleted comes as its id marked
//     @removed (reason "changed" for a soft delete, "deleted" for good).
//
// The deltaLinks carry the $select they were taken with (Graph encodes
// the query into the token), so the cookie records the properties too: a
// cookie taken by a version of usersync that selected others is refused,
// and the sync reads fully.
//
// A nested group added to or removed from a group comes only as an id in
// members@delta: Changes reads it (directoryObjects/getByIds, one request
// for up to 1000) so that it is among Entries, typed group, and the
// caller reads the parent whole. Groups Graph sends without their
// displayName, and users without their userPrincipalName or
// accountEnabled, are read the same way rather than mapped half.
//
// Graph refuses a deltaLink it no longer knows with 410 Gone
// (syncStateNotFound, resyncRequired): directory.ErrCookieRefused.

var _ directory.ChangeFeed = (*Directory)(nil)

// cookieFormat heads a feed cookie: the format and its version.
const cookieFormat = "usersync-entra-feed/1"

// groupDeltaSelect are the group properties the feed asks for: those
// groupEntry maps, and members, which makes Graph send members@delta.
var groupDeltaSelect = []string{"id", "displayName", "mail", "members"}

// feedSelect names the properties a cookie's deltaLinks were taken with.
func feedSelect() string {
	return "users:" + strings.Join(userSelect, ",") + ";groups:" + strings.Join(groupDeltaSelect, ",")
}

// feedCookie is what a cookie holds: the two deltaLinks, and what they
// were taken under.
type feedCookie struct {
	Tenant string `json:"tenant"`
	Graph  string `json:"graph"`
	Select string `json:"select"`
	Users  string `json:"users"`
	Groups string `json:"groups"`
}

// encodeCookie writes the format line, the JSON, and a checksum line.
func encodeCookie(c feedCookie) []byte {
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err) // strings always marshal
	}
	sum := sha256.Sum256(payload)
	var b bytes.Buffer
	b.WriteString(cookieFormat + "\n")
	b.Write(payload)
	b.WriteString("\n" + hex.EncodeToString(sum[:8]))
	return b.Bytes()
}

func decodeCookie(b []byte) (feedCookie, error) {
	if len(b) == 0 {
		return feedCookie{}, errors.New("there is no cookie")
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) != 3 || string(lines[0]) != cookieFormat {
		return feedCookie{}, errors.New("the cookie is not one this version of usersync made for Entra ID")
	}
	sum := sha256.Sum256(lines[1])
	if hex.EncodeToString(sum[:8]) != string(lines[2]) {
		return feedCookie{}, errors.New("the cookie is damaged (its checksum does not match)")
	}
	var c feedCookie
	if err := json.Unmarshal(lines[1], &c); err != nil {
		return feedCookie{}, fmt.Errorf("the cookie is damaged: %v", err)
	}
	return c, nil
}

// matchCookie checks that a cookie was taken from this tenant, through
// this Graph address, with the properties the feed selects now.
func (d *Directory) matchCookie(c feedCookie) error {
	switch {
	case !strings.EqualFold(c.Tenant, d.cfg.TenantID):
		return fmt.Errorf("the cookie was taken from tenant %s, the configuration names %s", c.Tenant, d.cfg.TenantID)
	case !strings.EqualFold(c.Graph, d.graph):
		return fmt.Errorf("the cookie was taken through %s, the configuration reads %s", c.Graph, d.graph)
	case c.Select != feedSelect():
		return errors.New("the cookie was taken for other properties than this version of usersync reads")
	}
	for _, link := range []string{c.Users, c.Groups} {
		if !d.sameGraph(link) {
			return fmt.Errorf("the cookie's delta link %q is not an address of %s", link, d.graph)
		}
	}
	return nil
}

// sameGraph reports whether link is an https address on the configured
// Graph host.
func (d *Directory) sameGraph(link string) bool {
	u, err := url.Parse(link)
	g, gerr := url.Parse(d.graph)
	return err == nil && gerr == nil && u.Scheme == "https" && strings.EqualFold(u.Host, g.Host)
}

// deltaURL is the first request of a round of collection ("users" or
// "groups") selecting sel, from the tenant as it is now
// ($deltatoken=latest). The SDK's delta request builders have no
// $deltatoken parameter, so the address is written here and sent through
// WithUrl, as deltaLinks are.
func (d *Directory) deltaURL(collection string, sel []string) string {
	return fmt.Sprintf("%s/v1.0/%s/delta()?$select=%s&$deltatoken=latest", d.graph, collection, strings.Join(sel, ","))
}

// FeedCookie returns a cookie for the tenant's users and groups as they
// are now, from two requests ($deltatoken=latest on /users/delta and
// /groups/delta) that read no entry.
func (d *Directory) FeedCookie(ctx context.Context) ([]byte, error) {
	c := feedCookie{Tenant: d.cfg.TenantID, Graph: d.graph, Select: feedSelect()}
	var err error
	if c.Users, err = d.followUsers(ctx, d.deltaURL("users", userSelect), func(models.Userable) {}); err != nil {
		return nil, fmt.Errorf("take a change feed cookie: %w", err)
	}
	if c.Groups, err = d.followGroups(ctx, d.deltaURL("groups", groupDeltaSelect), func(models.Groupable) {}); err != nil {
		return nil, fmt.Errorf("take a change feed cookie: %w", err)
	}
	return encodeCookie(c), nil
}

// Changes returns what changed among the tenant's users and groups since
// cookie (from FeedCookie or an earlier Changes): users and groups changed
// or created (Entries), with the nested groups added to or removed from a
// group among them; the direct members added to and removed from each
// group (MembersAdded, MembersRemoved; users and groups, other kinds of
// member left out); users and groups deleted (Deleted). Reads counts the
// users and groups Graph sent, and those read by id.
//
// Nothing partial is ever returned. A deltaLink Graph no longer accepts
// (410 Gone, syncStateNotFound, resyncRequired), or a cookie taken from
// another tenant or Graph address, with other properties, or damaged,
// wraps directory.ErrCookieRefused. A page that never arrives, throttling
// that outlasts the retries, a dropped connection or a cancelled ctx
// wraps directory.ErrIncomplete.
func (d *Directory) Changes(ctx context.Context, cookie []byte) (*directory.Changes, error) {
	c, err := decodeCookie(cookie)
	if err == nil {
		err = d.matchCookie(c)
	}
	if err != nil {
		return nil, fmt.Errorf("entra %s: %w: %v — usersync reads fully and takes a new cookie", d.cfg.Name, directory.ErrCookieRefused, err)
	}
	fs := newFeedState()
	next := c
	if next.Users, err = d.followUsers(ctx, c.Users, fs.user); err != nil {
		return nil, err
	}
	if next.Groups, err = d.followGroups(ctx, c.Groups, fs.group); err != nil {
		return nil, err
	}
	if err := d.complete(ctx, fs); err != nil {
		return nil, err
	}
	ch := fs.changes()
	ch.Cookie = encodeCookie(next)
	return ch, nil
}

// followUsers reads a round of /users/delta from link, handing each user
// to fn, and returns the round's deltaLink.
func (d *Directory) followUsers(ctx context.Context, link string, fn func(models.Userable)) (string, error) {
	return follow(ctx, d, "users", userPerms, link, func(u string) (deltaPage[models.Userable], error) {
		resp, err := d.client.Users().Delta().WithUrl(u).GetAsDeltaGetResponse(ctx, nil)
		if err != nil || resp == nil {
			return deltaPage[models.Userable]{}, err
		}
		return deltaPage[models.Userable]{value: resp.GetValue(), next: str(resp.GetOdataNextLink()), delta: str(resp.GetOdataDeltaLink())}, nil
	}, fn)
}

// followGroups reads a round of /groups/delta from link, handing each
// group to fn, and returns the round's deltaLink.
func (d *Directory) followGroups(ctx context.Context, link string, fn func(models.Groupable)) (string, error) {
	return follow(ctx, d, "groups", groupPerms, link, func(u string) (deltaPage[models.Groupable], error) {
		resp, err := d.client.Groups().Delta().WithUrl(u).GetAsDeltaGetResponse(ctx, nil)
		if err != nil || resp == nil {
			return deltaPage[models.Groupable]{}, err
		}
		return deltaPage[models.Groupable]{value: resp.GetValue(), next: str(resp.GetOdataNextLink()), delta: str(resp.GetOdataDeltaLink())}, nil
	}, fn)
}

// deltaPage is one page of a delta round.
type deltaPage[T any] struct {
	value       []T
	next, delta string
}

// follow pages through a delta round of collection from link: every
// @odata.nextLink, to the @odata.deltaLink, which it returns.
func follow[T any](ctx context.Context, d *Directory, collection string, perms []string, link string,
	get func(string) (deltaPage[T], error), fn func(T)) (string, error) {
	followed := map[string]bool{}
	for page := 1; ; page++ {
		if ctx.Err() != nil {
			return "", d.feedErr(collection, page, perms, ctx.Err())
		}
		p, err := get(link)
		if err == nil && p.value == nil && p.next == "" && p.delta == "" {
			err = errors.New("empty answer")
		}
		if err != nil {
			return "", d.feedErr(collection, page, perms, err)
		}
		for _, v := range p.value {
			fn(v)
		}
		switch {
		case p.next != "":
			if followed[p.next] {
				return "", d.feedErr(collection, page, perms, fmt.Errorf("Graph sent the same next page link twice: %s", p.next))
			}
			if !d.sameGraph(p.next) {
				return "", d.feedErr(collection, page, perms, fmt.Errorf("Graph sent a next page link to another address: %s", p.next))
			}
			followed[p.next] = true
			link = p.next
		case p.delta != "":
			return p.delta, nil
		default:
			return "", d.feedErr(collection, page, perms, errors.New("Graph sent neither a next page link nor a delta link"))
		}
	}
}

// refusedCodes are the Graph error codes that mean a delta token is no
// longer accepted: read fully.
var refusedCodes = map[string]bool{
	"syncstatenotfound": true,
	"resyncrequired":    true,
	"syncstateinvalid":  true,
}

// feedErr explains a page of a delta round that failed. A refused token
// wraps directory.ErrCookieRefused; a permission or another refusal is
// returned as such; anything that cut the round short (no answer, still
// throttled after the retries, a server error, a dropped connection,
// cancellation) wraps directory.ErrIncomplete.
func (d *Directory) feedErr(collection string, page int, perms []string, err error) error {
	op := "reading the changes of the " + collection
	if status, code, msg, ok := apiError(err); ok && (status == http.StatusGone || refusedCodes[strings.ToLower(code)]) {
		return fmt.Errorf("entra %s: %s: %w: Microsoft Graph answered %d %s (%s) — usersync reads fully and takes a new cookie",
			d.cfg.Name, op, directory.ErrCookieRefused, status, code, msg)
	}
	cause := d.graphErr(op, perms, err)
	var ge *GraphError
	if errors.Is(cause, ErrPermission) || (errors.As(cause, &ge) && ge.Status < 500 && ge.Status != http.StatusTooManyRequests) {
		return cause
	}
	return &directory.IncompleteError{
		Reason: fmt.Sprintf("page %d of the changes of the %s did not arrive", page, collection),
		Err:    cause,
	}
}

// feedState gathers a round's changes: the last word on each id wins.
type feedState struct {
	users, groups   []string // ids, in order of arrival
	entries         map[string]directory.Entry
	deleted         map[string]bool
	deletedOrder    []string
	added, removed  map[string]map[string]bool // group → member ids
	memberOrder     map[string][]string
	nested          map[string]bool // nested groups named in members@delta
	nestedOrder     []string
	reads           int
	needUser        []string // users sent without their userPrincipalName or accountEnabled
	needGroup       map[string]bool
	needGroupsOrder []string
}

func newFeedState() *feedState {
	return &feedState{
		entries: map[string]directory.Entry{}, deleted: map[string]bool{},
		added: map[string]map[string]bool{}, removed: map[string]map[string]bool{},
		memberOrder: map[string][]string{}, nested: map[string]bool{}, needGroup: map[string]bool{},
	}
}

// removedMark reports whether an item carries Graph's @removed annotation.
func removedMark(extra map[string]any) bool {
	_, ok := extra["@removed"]
	return ok
}

// rawString reads a string the JSON parse node left untyped.
func rawString(v any) string {
	switch s := v.(type) {
	case *string:
		if s != nil {
			return *s
		}
	case string:
		return s
	}
	return ""
}

func (fs *feedState) put(e directory.Entry) {
	if _, ok := fs.entries[e.ExternalID]; !ok {
		if e.Type == directory.TypeUser {
			fs.users = append(fs.users, e.ExternalID)
		} else {
			fs.groups = append(fs.groups, e.ExternalID)
		}
	}
	fs.entries[e.ExternalID] = e
	delete(fs.deleted, e.ExternalID)
}

func (fs *feedState) drop(id string) {
	delete(fs.entries, id)
	if !fs.deleted[id] {
		fs.deleted[id] = true
		fs.deletedOrder = append(fs.deletedOrder, id)
	}
}

func (fs *feedState) user(u models.Userable) {
	fs.reads++
	id := str(u.GetId())
	if id == "" {
		return
	}
	if removedMark(u.GetAdditionalData()) {
		fs.drop(id)
		return
	}
	if u.GetUserPrincipalName() == nil || u.GetAccountEnabled() == nil {
		// Not mapped half: a user without accountEnabled would read as
		// enabled.
		fs.needUser = append(fs.needUser, id)
	}
	fs.put(userEntry(u))
}

func (fs *feedState) group(g models.Groupable) {
	fs.reads++
	id := str(g.GetId())
	if id == "" {
		return
	}
	extra := g.GetAdditionalData()
	if removedMark(extra) {
		fs.drop(id)
		return
	}
	e := groupEntry(g)
	if g.GetDisplayName() == nil {
		// Only the membership came: the group's name is read by id,
		// unless an earlier page of the round had it.
		if prev, ok := fs.entries[id]; ok && prev.Name != "" {
			e = prev
		} else {
			fs.wantGroup(id)
		}
	}
	fs.put(e)
	list, _ := extra["members@delta"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		mid := rawString(m["id"])
		typ := strings.ToLower(rawString(m["@odata.type"]))
		if mid == "" {
			continue
		}
		switch typ {
		case "#microsoft.graph.user":
		case "#microsoft.graph.group":
			if !fs.nested[mid] {
				fs.nested[mid] = true
				fs.nestedOrder = append(fs.nestedOrder, mid)
			}
		default:
			continue // devices, service principals, contacts: not users
		}
		if _, ok := m["@removed"]; ok {
			fs.member(fs.removed, fs.added, id, mid)
		} else {
			fs.member(fs.added, fs.removed, id, mid)
		}
	}
}

// member records mid in into[group] and takes it out of from[group].
func (fs *feedState) member(into, from map[string]map[string]bool, group, mid string) {
	if into[group] == nil {
		into[group] = map[string]bool{}
	}
	if _, seen := fs.added[group][mid]; !seen {
		if _, seen := fs.removed[group][mid]; !seen {
			fs.memberOrder[group] = append(fs.memberOrder[group], mid)
		}
	}
	into[group][mid] = true
	delete(from[group], mid)
}

func (fs *feedState) wantGroup(id string) {
	if !fs.needGroup[id] {
		fs.needGroup[id] = true
		fs.needGroupsOrder = append(fs.needGroupsOrder, id)
	}
}

// complete reads what the round named without describing: nested groups
// added or removed (that are not among the groups the round sent),
// groups sent without their name, users without their principal name.
// Those Graph no longer knows were deleted since; the next round says
// so.
func (d *Directory) complete(ctx context.Context, fs *feedState) error {
	for _, id := range fs.nestedOrder {
		if _, ok := fs.entries[id]; !ok && !fs.deleted[id] {
			fs.wantGroup(id)
		}
	}
	if len(fs.needGroupsOrder) > 0 {
		found, err := d.lookupGroups(ctx, fs.needGroupsOrder)
		if err != nil {
			return incomplete("the groups named by the changes could not be read", err)
		}
		fs.reads += len(found)
		for _, id := range fs.needGroupsOrder {
			if e, ok := found[id]; ok {
				fs.put(e)
			} else if prev, ok := fs.entries[id]; ok && prev.Name == "" {
				delete(fs.entries, id)
			}
		}
	}
	if len(fs.needUser) > 0 {
		found, err := d.LookupUsers(ctx, fs.needUser)
		if err != nil {
			return incomplete("the users named by the changes could not be read", err)
		}
		fs.reads += len(found)
		for _, id := range fs.needUser {
			if e, ok := found[id]; ok {
				fs.put(e)
			} else {
				delete(fs.entries, id)
			}
		}
	}
	return nil
}

func incomplete(reason string, err error) error {
	if errors.Is(err, ErrPermission) {
		return err
	}
	return &directory.IncompleteError{Reason: reason, Err: err}
}

// changes is the round's result.
func (fs *feedState) changes() *directory.Changes {
	ch := &directory.Changes{Reads: fs.reads}
	for _, ids := range [][]string{fs.users, fs.groups} {
		for _, id := range ids {
			if e, ok := fs.entries[id]; ok {
				ch.Entries = append(ch.Entries, e)
			}
		}
	}
	listed := map[string]bool{}
	for _, id := range fs.deletedOrder {
		if fs.deleted[id] && !listed[id] {
			listed[id] = true
			ch.Deleted = append(ch.Deleted, id)
		}
	}
	for group, order := range fs.memberOrder {
		for _, mid := range order {
			switch {
			case fs.added[group][mid]:
				if ch.MembersAdded == nil {
					ch.MembersAdded = map[string][]string{}
				}
				ch.MembersAdded[group] = append(ch.MembersAdded[group], mid)
			case fs.removed[group][mid]:
				if ch.MembersRemoved == nil {
					ch.MembersRemoved = map[string][]string{}
				}
				ch.MembersRemoved[group] = append(ch.MembersRemoved[group], mid)
			}
		}
	}
	return ch
}

// lookupGroups reads groups by id through directoryObjects/getByIds, 1000
// at a time. Ids Graph does not return (deleted groups) are absent.
func (d *Directory) lookupGroups(ctx context.Context, ids []string) (map[string]directory.Entry, error) {
	asked := make(map[string]string, len(ids))
	for _, id := range ids {
		asked[strings.ToLower(id)] = id
	}
	return d.getByIDs(ctx, "group", groupPerms, asked, ids, func(o models.DirectoryObjectable) (directory.Entry, bool) {
		g, ok := o.(models.Groupable)
		if !ok {
			return directory.Entry{}, false
		}
		return groupEntry(g), true
	})
}
