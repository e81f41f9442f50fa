package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"callrec/models"
)

// apikey handles "callrec apikey create --user NAME [--name LABEL]".
func apikey(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: callrec apikey create --user NAME [--name LABEL] [--data DIR]")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(stdout)
	user := fs.String("user", "", "user the token acts as")
	label := fs.String("name", "cli", "a label for the token")
	open := storeFlags(fs, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	store, err := open()
	if err != nil {
		return err
	}
	defer store.Close()
	tok, err := store.CreateAPIToken(ctx, *user, *label)
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("no user %q", *user)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
