package calls_test

import (
	"testing"

	"callrec/calls"
	"callrec/i18n"
)

// labels is every value's message ID, by the list it comes from.
func labels() map[string][]string {
	out := map[string][]string{}
	add := func(list string, keys ...string) { out[list] = append(out[list], keys...) }
	for _, v := range calls.States {
		add("States", v.Key())
	}
	for _, v := range calls.RecStates {
		add("RecStates", v.Key())
	}
	for _, v := range calls.Outcomes {
		add("Outcomes", v.Key())
	}
	for _, v := range calls.Modes {
		add("Modes", v.Key())
	}
	for _, v := range calls.Slots {
		add("Slots", v.Key(), v.ShortKey())
	}
	for _, v := range calls.EventKinds {
		add("EventKinds", v.Key())
	}
	for _, v := range calls.RecordingStatuses {
		add("RecordingStatuses", v.Key())
	}
	return out
}

// TestEveryValueIsTranslated: a value without its label in one language would show its
// message ID on that language's pages.
func TestEveryValueIsTranslated(t *testing.T) {
	for list, keys := range labels() {
		if len(keys) == 0 {
			t.Errorf("%s is empty", list)
		}
		for _, k := range keys {
			for _, lang := range i18n.Languages {
				if !i18n.Has(lang, k) {
					t.Errorf("%s: %q has no %s translation", list, k, lang)
				}
			}
		}
	}
	if len(i18n.Languages) != 3 {
		t.Errorf("languages %v, want de, en and fr", i18n.Languages)
	}
}

func checkList[T ~string](t *testing.T, list string, vals []T, valid func(T) bool) {
	t.Helper()
	seen := map[T]bool{}
	for _, v := range vals {
		if v == "" || seen[v] || !valid(v) {
			t.Errorf("%s: value %q empty, repeated or not Valid", list, v)
		}
		seen[v] = true
	}
}

// TestListsHoldDistinctValidValues: a value twice in a list, or one its type's Valid refuses,
// would make a filter offer a value twice or refuse one it offers.
func TestListsHoldDistinctValidValues(t *testing.T) {
	checkList(t, "States", calls.States, calls.State.Valid)
	checkList(t, "RecStates", calls.RecStates, calls.RecState.Valid)
	checkList(t, "Outcomes", calls.Outcomes, calls.Outcome.Valid)
	checkList(t, "Modes", calls.Modes, calls.Mode.Valid)
	checkList(t, "Slots", calls.Slots, calls.Slot.Valid)
	checkList(t, "EventKinds", calls.EventKinds, calls.EventKind.Valid)
	checkList(t, "RecordingStatuses", calls.RecordingStatuses, calls.RecordingStatus.Valid)
	if calls.Outcome("nonsense").Valid() || calls.Slot("").Valid() {
		t.Error("Valid accepts a value outside its list")
	}
}
