package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lachan/internal/atomicfile"
)

// savedSession is what `lachan login` keeps for later commands: the
// session token and the server it is good for, so that a session of one
// server is never sent to another.
type savedSession struct {
	Server  string    `json:"server"`
	Name    string    `json:"name"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

func readSession(path string) (savedSession, error) {
	var s savedSession
	if path == "" {
		return s, errors.New("no session file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("session file %s: %w", path, err)
	}
	return s, nil
}

func writeSession(path string, s savedSession) error {
	if path == "" {
		return errors.New("no place for the session file: set client.session_file")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// secretReader reads passwords: from stdin one a line (--password-stdin),
// or prompted on the terminal without echo.
type secretReader struct {
	stdin  *bufio.Reader
	prompt io.Writer
	piped  bool
}

func (r *secretReader) read(prompt string) (string, error) {
	if r.piped {
		line, err := r.stdin.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("read %s from stdin: %w", strings.TrimSuffix(prompt, ": "), err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(r.prompt, prompt)
	pw, err := readNoEcho(os.Stdin)
	fmt.Fprintln(r.prompt)
	if err != nil {
		return "", fmt.Errorf("%w (or pass --password-stdin)", err)
	}
	return pw, nil
}

// readLine reads a line shown as typed (a one-time code).
func (r *secretReader) readLine(prompt string) (string, error) {
	if !r.piped {
		fmt.Fprint(r.prompt, prompt)
	}
	line, err := r.stdin.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(prompt, ": "), err)
	}
	return strings.TrimSpace(line), nil
}
