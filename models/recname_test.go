package models

import (
	"testing"
	"time"
)

func TestParseRecName(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2018, 9, 11, 15, 2, 22, 0, berlin)
	cases := []struct {
		name string
		want RecName
	}{
		// The product document's example, verbatim, with its empty field between a and b.
		{"rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874", Gap: true}},
		// The engine's shape.
		{"rec_20180911_150222_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874"}},
		// Withheld caller: the empty field is a.
		{"rec_20180911_150222_337826_4971121843140__49711218431431_4915258878874.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", B: "49711218431431", C: "4915258878874", Withheld: true}},
		// Withheld caller in the document's shape.
		{"rec_20180911_150222_337826_4971121843140___49711218431431_4915258878874.WAV",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", B: "49711218431431", C: "4915258878874", Withheld: true, Gap: true}},
		// Collision suffixes in both shapes and with a withheld caller.
		{"rec_20180911_150222_337826_4971121843140_49711218431440_49711218431431_4915258878874_2.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874", Seq: 2}},
		{"rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874_3.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874", Gap: true, Seq: 3}},
		{"rec_20180911_150222_337826_4971121843140__49711218431431_4915258878874_12.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", B: "49711218431431", C: "4915258878874", Withheld: true, Seq: 12}},
		// A short destination is not mistaken for a suffix.
		{"rec_20180911_150222_337826_4971121843140_49711218431440_49711218431431_110.wav",
			RecName{At: at, SubscriberID: "337826", StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "110"}},
	}
	for _, c := range cases {
		got, ok := ParseRecName(c.name, berlin)
		if !ok || !got.At.Equal(c.want.At) {
			t.Errorf("%s: ok=%v at=%v", c.name, ok, got.At)
			continue
		}
		got.At = c.want.At
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"", "notes.txt", "rec_.wav", "rec_20180911_150222.wav", "rec_20181311_150222_1_2_3_4_5.wav",
		"rec_20180911_150222__4971121843140_1_2_3.wav", "rec_20180911_150222_1_2_3_4.wav", "rec_20180911_150222_1_2_3__5.wav",
		"call_20180911_150222_1_2_3_4_5.wav", "rec_2018091_1150222_1_2_3_4_5.wav", "rec_20180911_150222_1_2_a_b_c_d_e.wav"} {
		if r, ok := ParseRecName(bad, berlin); ok {
			t.Errorf("%q parsed as %+v", bad, r)
		}
	}
}

func FuzzParseRecName(f *testing.F) {
	f.Add("rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874.wav")
	f.Add("rec_20180911_150222_337826_4971121843140__49711218431431_4915258878874_2.wav")
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseRecName(s, time.UTC)
		if ok && (r.B == "" || r.C == "" || r.SubscriberID == "" || r.Withheld != (r.A == "")) {
			t.Fatalf("%q: %+v", s, r)
		}
	})
}

// TestParseStamp holds parseStamp to time.ParseInLocation's answers: every day of two years
// (one a leap year), the edges of each field, and malformed stamps.
func TestParseStamp(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	stamps := []string{"20260329023000", "20261025023000", "00000101000000", "99991231235959", "20260230120000",
		"20260229120000", "20240229120000", "20261301000000", "20260001000000", "20260100000000", "20260101240000",
		"20260101006000", "20260101000060", "2026010100000", "202601010000000", "2026-1010000000", "+0260101000000",
		"20260101 00000", "２0260101000000"}
	for d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2026; d = d.AddDate(0, 0, 1) {
		stamps = append(stamps, d.Format("20060102")+"235959", d.Format("200601")+"32"+"000000")
	}
	for _, s := range stamps {
		for _, loc := range []*time.Location{time.UTC, berlin} {
			want, werr := time.ParseInLocation("20060102150405", s, loc)
			got, ok := parseStamp(s, loc)
			if ok != (werr == nil) || ok && !got.Equal(want) {
				t.Errorf("%q in %v: %v %v, time.ParseInLocation says %v %v", s, loc, got, ok, want, werr)
			}
		}
	}
}
