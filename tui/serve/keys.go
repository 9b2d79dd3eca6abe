package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// Identity is who a key acts as: the name runs journal as their actor, and
// whether the key may only read.
type Identity struct {
	Name     string
	ReadOnly bool
}

// Keys is an authorized-keys file, in OpenSSH's format, with usersync's
// options:
//
//	usersync-user="alice" ssh-ed25519 AAAA... alice@laptop
//	usersync-readonly ssh-ed25519 AAAA... helpdesk-viewer
//	ssh-ed25519 AAAA... bob
//
// The name is the usersync-user option, else the key's comment; a key with
// neither is refused when the file is read. usersync-readonly lets the key
// browse users, groups and runs but not import or synchronize. Other
// OpenSSH options are ignored.
type Keys struct {
	entries []keyEntry
}

type keyEntry struct {
	key gossh.PublicKey
	id  Identity
}

// ReadKeys reads and checks an authorized-keys file. A line that is not a
// key, or a key without a name, is an error naming the file and the line.
func ReadKeys(path string) (*Keys, error) {
	if path == "" {
		return nil, fmt.Errorf("serve: --authorized-keys is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: authorized keys: %w", err)
	}
	return ParseKeys(path, data)
}

// ParseKeys parses the content of an authorized-keys file; path is for
// error messages.
func ParseKeys(path string, data []byte) (*Keys, error) {
	k := &Keys{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, comment, options, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an OpenSSH public key (%v)", path, n, err)
		}
		id := Identity{Name: strings.TrimSpace(comment)}
		for _, o := range options {
			name, value, hasValue := strings.Cut(o, "=")
			switch strings.ToLower(name) {
			case "usersync-user":
				v := strings.Trim(value, `"`)
				if !hasValue || strings.TrimSpace(v) == "" {
					return nil, fmt.Errorf(`%s:%d: usersync-user needs a name: usersync-user="alice"`, path, n)
				}
				id.Name = strings.TrimSpace(v)
			case "usersync-readonly":
				id.ReadOnly = true
			}
		}
		if id.Name == "" {
			return nil, fmt.Errorf(`%s:%d: the key has no name: add a comment after it, or usersync-user="NAME" before it`, path, n)
		}
		k.entries = append(k.entries, keyEntry{key: key, id: id})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("serve: authorized keys %s: %w", path, err)
	}
	return k, nil
}

// Lookup finds who key is.
func (k *Keys) Lookup(key gossh.PublicKey) (Identity, bool) {
	if k == nil {
		return Identity{}, false
	}
	b := key.Marshal()
	for _, e := range k.entries {
		if bytes.Equal(e.key.Marshal(), b) {
			return e.id, true
		}
	}
	return Identity{}, false
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.entries) }
