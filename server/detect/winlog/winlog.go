package winlog

import (
	"lachan/internal/event"
	"lachan/internal/winevent"
)

// DatasetPrefix starts the dataset of every Windows event.
const DatasetPrefix = winevent.DatasetPrefix

// DatasetFor names the dataset of a Windows event log channel; see
// winevent.DatasetFor.
func DatasetFor(channel string) string { return winevent.DatasetFor(channel) }

// IsWindowsEvent tells whether a decoded JSON object looks like a Windows
// event, nested or flat.
func IsWindowsEvent(obj map[string]any) bool { return winevent.IsWindowsEvent(obj) }

// Convert turns one Windows event, nested or flat, into an event.Event
// through the mapping the agent's events share (winevent.Convert).
func Convert(obj map[string]any) (event.Event, error) { return winevent.Convert(obj) }
