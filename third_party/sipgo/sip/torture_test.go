package sip

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTorture(t *testing.T) {
	parser := NewParser()

	// RFC 4475: what a parser must accept (3.1.1, and the messages of 3.2 to 3.4 whose
	// torture is above the parser), and what it must refuse (3.1.2, where the RFC allows a
	// liberal reading this parser is strict). dblreq, mpart01, unreason, noreason are valid.
	validTests := []string{
		"valid/dblreq", "valid/esc01", "valid/esc02", "valid/escnull", "valid/intmeth",
		"valid/longreq", "valid/lwsdisp", "valid/mpart01", "valid/noreason", "valid/semiuri",
		"valid/transports", "valid/unreason", "valid/wsinv",
		"invalid/baddate", "invalid/badvers", "invalid/mismatch01", "invalid/mismatch02",
		"invalid/badbranch", "invalid/insuf", "invalid/unkscm", "invalid/novelsc",
		"invalid/unksm2", "invalid/bext01", "invalid/invut", "invalid/regaut01",
		"invalid/multi01", "invalid/bcast", "invalid/zeromf", "invalid/cparam01",
		"invalid/cparam02", "invalid/regescrt", "invalid/sdp01", "invalid/inv2543",
	}

	invalidTests := []string{
		"badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
		"lwsstart", "trws", "escruri", "regbadct", "badaspec", "baddn", "bigcode", "mcl01",
		"test",
	}
	for _, test := range validTests {
		t.Run(test, func(t *testing.T) {
			data, err := os.ReadFile("testdata/torture/" + test + ".dat")
			require.NoErrorf(t, err, "Error reading torture file %s", test)

			_, err = parser.ParseSIP(data)
			require.NoErrorf(t, err, "error parsing %s", test)
		})
	}

	for _, test := range invalidTests {
		t.Run(test, func(t *testing.T) {
			data, err := os.ReadFile("testdata/torture/invalid/" + test + ".dat")
			require.NoErrorf(t, err, "Error reading torture file %s", test)

			_, err = parser.ParseSIP(data)
			require.Errorf(t, err, "test %s should be failing", test)
		})
	}
}
