package web

import (
	"encoding/json"
	"slices"
	"testing"

	"callrec/calls"
)

// The API's description names every value of the call vocabulary (package calls) and no other:
// a value added there without the description (the trail's hold and session-timer kinds were)
// fails here.
func TestOpenAPICallVocabulary(t *testing.T) {
	b, err := openapiFS.ReadFile("openapi/calls.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	enum := func(schema, prop string) []string {
		e := slices.Clone(doc.Components.Schemas[schema].Properties[prop].Enum)
		slices.Sort(e)
		return slices.Compact(slices.DeleteFunc(e, func(s string) bool { return s == "" }))
	}
	strs := func(vs ...string) []string { slices.Sort(vs); return vs }
	for _, c := range []struct {
		schema, prop string
		want         []string
	}{
		{"CallEvent", "kind", strs(conv(calls.EventKinds)...)},
		{"Call", "state", strs(conv(calls.States)...)},
		{"Call", "recording_state", strs(conv(calls.RecStates)...)},
		{"Call", "mode", strs(conv(calls.Modes)...)},
		{"Call", "outcome", strs(conv(calls.Outcomes)...)},
		{"CallRecording", "status", strs(conv(calls.RecordingStatuses)...)},
	} {
		if got := enum(c.schema, c.prop); !slices.Equal(got, c.want) {
			t.Errorf("openapi/calls.json %s.%s enum %v, package calls has %v", c.schema, c.prop, got, c.want)
		}
	}
}

func conv[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
