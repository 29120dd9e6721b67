// Package event is the one event model that travels through Lá Chắn: from the
// agent and the sensor, through ingest, detection and storage, to incidents and
// reports.
//
// An Event is a flat set of ECS-aligned dotted field names ("host.name",
// "source.ip", "dns.question.name") plus three fields every event must have:
// "@timestamp", "event.id" and "event.dataset". The ID is made where the event
// is born (agent or sensor) and never changes, so that a retry anywhere is
// idempotent: at-least-once delivery plus de-duplication by ID gives
// exactly-once storage.
package event
