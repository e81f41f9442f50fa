// Command callrec is the call-recording product in one binary: the Control Panel (web UI and
// JSON API), the SIP/RTP recording engine, and FTPS/SFTP access to recordings.
//
//	callrec [serve] [flags]           run everything (the default)
//	callrec user passwd NAME          set a new password
//	callrec apikey create --user NAME print a new API token for a user
//	callrec testcall                  a test call through the running engine
//	callrec convert IN OUT            convert audio to WAV 8-bit 16 kHz mono
//	callrec migrate [--status]        apply (or list) the database's migrations
//	callrec copy-db --from F --to URL copy a SQLite installation into PostgreSQL
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // customers' time zones work on machines without a zoneinfo database
)

func main() {
	ctx, stop := signals(context.Background())
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "callrec:", err)
		os.Exit(1)
	}
}

// run is main without the process: tests call it with their own args, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout)
	case "apikey":
		return apikey(ctx, args, getenv, stdout)
	case "user":
		return user(ctx, args, getenv, os.Stdin, stdout)
	case "testcall":
		return testcall(ctx, args, getenv, stdout)
	case "convert":
		return convert(args, stdout)
	case "migrate":
		return migrate(ctx, args, getenv, stdout)
	case "copy-db":
		return copyDB(ctx, args, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage: callrec COMMAND [flags]

commands:
  serve [flags]                run the Control Panel and the recording engine (the default)
  user passwd NAME [--stdin]   set a new password for NAME (generated and printed, or read)
  apikey create --user NAME    print a new API token for NAME
  testcall [--to NUMBER]       place a test call through the running engine (a built-in
                               caller and callee), so a first recording appears
  convert IN OUT               convert audio to WAV 8-bit 16 kHz mono
  migrate [--status]           apply the database's pending migrations (serve does at start),
                               or list them
  copy-db --from SQLITE_PATH --to postgres://...
                               copy a SQLite installation into an empty PostgreSQL database
  healthcheck                  exit 0 when the panel at CALLREC_HTTP answers
  help                         this text

"callrec serve -h" lists the flags; each has a CALLREC_* environment twin. user, apikey,
testcall and migrate find the database as serve does: --db, else CALLREC_DB, else
callrec.db in --data, else CALLREC_DATA, else ./data.
`
