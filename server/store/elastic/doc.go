// Package elastic is the Elasticsearch 8 engine of store.Store, for
// deployments that outgrow one machine. Several server processes can share
// one cluster: the engine keeps no state that the cluster does not hold,
// beside its disk buffer of writes the cluster has not yet taken.
//
// # Layout in the cluster
//
// With the index prefix P (Config.IndexPrefix):
//
//	P-events-endpoint, P-events-network, P-events-alert
//	    data streams, one per data kind (store.DataKinds), each with its
//	    index template (mappings from store.DefaultMapping) and an ILM
//	    policy P-events-KIND that rolls over by size and age and deletes
//	    after the kind's retention
//	P-entities    a plain index of entities (agents, units, incidents, state)
//	P-deadletters a plain index of events that did not fit the mapping
//
// Event documents are the event's JSON (event.Event.MarshalJSON) plus one
// engine field, lachan.ts_ns: @timestamp as nanoseconds since the epoch,
// on which searches sort and bound so that order and windows are exact to
// the nanosecond (an Elasticsearch date keeps milliseconds, and date_nanos
// cannot hold times before 1970).
//
// # Writes
//
// Events are written with the bulk API as create operations whose _id is
// the event ID: a retry of a stored event answers 409, which counts as
// already stored, so PutEvents reports which events were fresh. An item
// refused with 429 or 5xx is retried with exponential backoff. When the
// cluster cannot be reached, or still refuses after Config.MaxAttempts,
// the remaining bulk lines go to a durable disk buffer (internal/spool)
// and PutEvents returns without error, reporting every buffered event as
// fresh (the engine cannot know better until the cluster answers); a
// background drainer sends the buffer, oldest first, once the cluster is
// back, and acknowledges a record only when every line of it got a final
// answer, so nothing is lost and the create operations keep it from being
// stored twice.
//
// An event that fails store.Mapping.Check, or that the cluster refuses with
// a 400 (mapper_parsing_exception, document_parsing_exception, …), goes to
// P-deadletters with the field and the reason.
//
// Idempotency holds within one backing index of a data stream: a resend of
// an event after its data stream rolled over is stored a second time.
// docs/elasticsearch.md says more.
//
// # Entities
//
// Entities carry their store version in the document; a write reads the
// current document and writes with if_seq_no and if_primary_term from that
// read, so that of two writers naming the same version only one succeeds.
package elastic
