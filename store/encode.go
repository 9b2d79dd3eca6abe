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

// appendString writes the field name holding v (never first).
func appendString(b []byte, name, v string) []byte {
	return appendJSONString(appendField(b, false, name), v)
}

// appendOmitEmpty writes the field name holding v unless v is empty
// (omitempty).
func appendOmitEmpty(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(b, name, v)
}

// appendJSON writes u as encoding/json would (omitempty fields left out).
func (u *userRec) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendField(b, true, "username")
	b = appendJSONString(b, u.Username)
	b = appendOmitEmpty(b, "display_name", u.DisplayName)
	b = appendOmitEmpty(b, "email", u.Email)
	b = appendString(b, "kind", string(u.Kind))
	b = appendOmitEmpty(b, "source", u.Source)
	b = appendOmitEmpty(b, "external_id", u.ExternalID)
	b = appendOmitEmpty(b, "dn", u.DN)
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
			b = appendString(b, "scope", a.Scope)
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
	b = appendString(b, "type", string(e.Type))
	b = appendString(b, "action", string(e.Action))
	b = appendString(b, "reason", e.Reason)
	b = appendOmitEmpty(b, "block", string(e.Block))
	b = appendOmitEmpty(b, "group", e.Group)
	return append(b, '}')
}
