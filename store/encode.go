package store

import (
	"encoding/json"
	"strconv"
)

// Hand-written JSON encoders for the two records written once per entry of
// an import (the user and its journal entry): the same JSON encoding/json
// writes for them, field for field, without reflection. Everything else
// goes through encoding/json (encode).

// appendJSONString appends s as a JSON string. Plain printable ASCII is
// copied as it is; anything else goes through encoding/json, so the
// escaping is exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendJSONSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONSlow(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil {
		panic("store: encoding a string: " + err.Error())
	}
	return append(b, q...)
}

func appendField(b []byte, first bool, name string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendJSON writes u as encoding/json would (omitempty fields left out).
func (u *userRec) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendField(b, true, "username")
	b = appendJSONString(b, u.Username)
	if u.DisplayName != "" {
		b = appendField(b, false, "display_name")
		b = appendJSONString(b, u.DisplayName)
	}
	if u.Email != "" {
		b = appendField(b, false, "email")
		b = appendJSONString(b, u.Email)
	}
	b = appendField(b, false, "kind")
	b = appendJSONString(b, string(u.Kind))
	if u.Source != "" {
		b = appendField(b, false, "source")
		b = appendJSONString(b, u.Source)
	}
	if u.ExternalID != "" {
		b = appendField(b, false, "external_id")
		b = appendJSONString(b, u.ExternalID)
	}
	if u.DN != "" {
		b = appendField(b, false, "dn")
		b = appendJSONString(b, u.DN)
	}
	b = appendField(b, false, "enabled")
	b = strconv.AppendBool(b, u.Enabled)
	if u.Guest {
		b = appendField(b, false, "guest")
		b = append(b, "true"...)
	}
	if len(u.Roles) > 0 {
		b = appendField(b, false, "roles")
		b = append(b, '[')
		for i, a := range u.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendField(append(b, '{'), true, "role")
			b = appendJSONString(b, a.Role)
			b = appendField(b, false, "scope")
			b = appendJSONString(b, a.Scope)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, false, "created")
	b = strconv.AppendInt(b, u.Created, 10)
	if u.Synced != 0 {
		b = appendField(b, false, "synced")
		b = strconv.AppendInt(b, u.Synced, 10)
	}
	b = appendField(b, false, "modified")
	b = strconv.AppendInt(b, u.Modified, 10)
	if u.Linked {
		b = appendField(b, false, "linked")
		b = append(b, "true"...)
	}
	return append(b, '}')
}

// appendJSON writes e as encoding/json would.
func (e *RunEntry) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendField(b, true, "name")
	b = appendJSONString(b, e.Name)
	b = appendField(b, false, "type")
	b = appendJSONString(b, string(e.Type))
	b = appendField(b, false, "action")
	b = appendJSONString(b, string(e.Action))
	b = appendField(b, false, "reason")
	b = appendJSONString(b, e.Reason)
	if e.Block != "" {
		b = appendField(b, false, "block")
		b = appendJSONString(b, string(e.Block))
	}
	if e.Group != "" {
		b = appendField(b, false, "group")
		b = appendJSONString(b, e.Group)
	}
	return append(b, '}')
}
