package client

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// TestPinActionKey: the first key is pinned and kept across a reload; a
// different one later is refused, the same one is a no-op.
func TestPinActionKey(t *testing.T) {
	dir := t.TempDir()
	c := &Client{stateDir: dir}
	k1, _, _ := ed25519.GenerateKey(nil)
	k2, _, _ := ed25519.GenerateKey(nil)
	if pinned, err := c.PinActionKey(nil); pinned || err != nil {
		t.Fatalf("no key: %v %v", pinned, err)
	}
	if _, err := c.PinActionKey([]byte("short")); err == nil {
		t.Fatal("a key of the wrong size was taken")
	}
	if pinned, err := c.PinActionKey(k1); !pinned || err != nil {
		t.Fatalf("first key: %v %v", pinned, err)
	}
	if pinned, err := c.PinActionKey(k1); pinned || err != nil {
		t.Fatalf("same key again: %v %v", pinned, err)
	}
	if _, err := c.PinActionKey(k2); !errors.Is(err, ErrActionKeyChanged) {
		t.Fatalf("another key: %v", err)
	}
	again := &Client{stateDir: dir}
	again.loadActionKey()
	if !again.ActionKey().Equal(k1) {
		t.Fatal("the pinned key was not kept on disk")
	}
}
