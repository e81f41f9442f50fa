package calls

// The message IDs (i18n/locales) of each value's label, as the pages show them.

func (s State) Key() string           { return "calls.state_" + string(s) }
func (s RecState) Key() string        { return "calls.rec_" + string(s) }
func (o Outcome) Key() string         { return "calls.outcome_" + string(o) }
func (m Mode) Key() string            { return "calls.mode_" + string(m) }
func (k EventKind) Key() string       { return "calls.event_" + string(k) }
func (r RecordingStatus) Key() string { return "files.status_" + string(r) }

// Key is the slot's label on the announcements page; ShortKey its label in the booking
// summary.
func (s Slot) Key() string      { return "announce.slot_" + string(s) }
func (s Slot) ShortKey() string { return "booking.slot." + string(s) }
