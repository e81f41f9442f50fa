package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"callrec/models"
)

// user handles "callrec user passwd NAME [--stdin]": a new password for a user, generated and
// printed, or read from the first line of standard input. Every session of the user ends (its
// login stamp changes with the password).
func user(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	const use = "usage: callrec user passwd NAME [--stdin] [--data DIR] [--db FILE]"
	if len(args) < 2 || args[0] != "passwd" || strings.HasPrefix(args[1], "-") {
		return errors.New(use)
	}
	name := args[1]
	fs := flag.NewFlagSet("user passwd", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fromStdin := fs.Bool("stdin", false, "read the new password from the first line of standard input")
	open := storeFlags(fs, getenv)
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	store, err := open()
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	if err != nil {
		return err
	}
	pw := models.GeneratePassword()
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if err := store.ResetPassword(ctx, models.Actor{Role: models.RolePlatformAdmin}, u.ID, pw); err != nil {
		var v models.ValidationError
		if errors.As(err, &v) {
			return fmt.Errorf("the password needs at least %d characters", models.MinPasswordLength)
		}
		return err
	}
	if *fromStdin {
		fmt.Fprintf(stdout, "New password set for %s.\n", name)
	} else {
		fmt.Fprintf(stdout, "New password for %s: %s\n", name, pw)
	}
	return nil
}

// storeFlags adds --data and --db, found the way serve finds them (dbFlags), and returns the
// function that opens the store they name; a SQLite file that is not there is an error that
// says where it looked, instead of a new empty database.
func storeFlags(fs *flag.FlagSet, getenv func(string) string) func() (*models.Store, error) {
	dsn := dbFlags(fs, getenv)
	return func() (*models.Store, error) {
		d := dsn()
		if !strings.Contains(d, "://") {
			if _, err := os.Stat(d); err != nil {
				return nil, fmt.Errorf("no database at %s: start callrec there first, or name the data folder with --data or CALLREC_DATA", d)
			}
		}
		return models.Open(d)
	}
}
