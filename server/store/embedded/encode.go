package embedded

import "lachan/internal/event"

// appendEventJSON appends the stored form of ev to b: the JSON object
// event.Event.MarshalJSON writes.
func appendEventJSON(b []byte, ev event.Event) ([]byte, error) { return ev.AppendJSON(b) }
