package forward

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"lachan/server/incident"
	"lachan/server/pki"
	"lachan/server/store"
)

// Collection titles this server offers as an upper tier.
const (
	IncidentsTitle  = "lachan-incidents"
	IndicatorsTitle = "lachan-indicators"
)

// Store entity kinds of the receiving side.
const (
	KindObject = "taxii.object"
	KindStatus = "taxii.status"
)

// MaxBody bounds a request body.
const MaxBody = 16 << 20

var (
	incidentsID  = uuid5(namespace, "collection|incidents")
	indicatorsID = uuid5(namespace, "collection|indicators")
)

// IncidentSink files reported incidents; *incident.Manager is one.
type IncidentSink interface {
	ReceiveRemote(ctx context.Context, r incident.Remote) (incident.Incident, bool, error)
}

// Operator is an operator the API authenticated by token.
type Operator struct{ Name, Role string }

type operatorKey struct{}

// WithOperator marks a request's context as coming from an operator.
func WithOperator(ctx context.Context, op Operator) context.Context {
	return context.WithValue(ctx, operatorKey{}, op)
}

func operatorOf(ctx context.Context) (Operator, bool) {
	op, ok := ctx.Value(operatorKey{}).(Operator)
	return op, ok
}

type sender struct {
	Sender
	pub ed25519.PublicKey
	tok []byte
}

// Receiver is the TAXII 2.1 server side: lower-tier servers post signed
// incident bundles to it, and it publishes indicators for them to poll.
type Receiver struct {
	senders map[string]sender
	st      store.Store
	sink    IncidentSink
	name    string
	key     ed25519.PrivateKey
	log     *slog.Logger
	now     func() time.Time
}

// NewReceiver returns a receiver for the registered senders that signs
// what it publishes as name with key.
func NewReceiver(senders []Sender, st store.Store, sink IncidentSink, name string, key ed25519.PrivateKey, log *slog.Logger, now func() time.Time) (*Receiver, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{senders: map[string]sender{}, st: st, sink: sink, name: name, key: key, log: log.With("component", "taxii"), now: now}
	for i, s := range senders {
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("sender %d: %w", i, err)
		}
		pub, _ := ParsePublicKey(s.PublicKey)
		tok, _ := hex.DecodeString(s.TokenSHA256)
		r.senders[s.Name] = sender{Sender: s, pub: pub, tok: tok}
	}
	return r, nil
}

// refusal is an error answer with its TAXII title.
type refusal struct {
	status int
	title  string
	err    error
}

func (e *refusal) Error() string { return e.title + ": " + e.err.Error() }

func refuse(status int, title string, format string, args ...any) *refusal {
	return &refusal{status: status, title: title, err: fmt.Errorf(format, args...)}
}

// ServeHTTP serves everything under /taxii2/.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := r.serve(w, req); err != nil {
		var rf *refusal
		if !errors.As(err, &rf) {
			r.log.Error("taxii request", "path", req.URL.Path, "err", err)
			rf = &refusal{status: http.StatusInternalServerError, title: "internal error", err: errors.New("see the server log")}
		} else {
			r.log.Warn("taxii request refused", "path", req.URL.Path, "status", rf.status, "reason", rf.Error())
		}
		writeTAXII(w, rf.status, ErrorMessage{Title: rf.title, Description: rf.err.Error(), HTTPStatus: fmt.Sprint(rf.status)}, nil)
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) error {
	who, err := r.caller(req)
	if err != nil {
		return err
	}
	path := req.URL.Path
	if req.Method == http.MethodGet && path == "/taxii2/" {
		writeTAXII(w, 200, Discovery{Title: "Lá Chắn", Default: APIRootPath, APIRoots: []string{APIRootPath}}, nil)
		return nil
	}
	rest, ok := strings.CutPrefix(path, APIRootPath)
	if !ok {
		return refuse(404, "not found", "no TAXII resource at %s", path)
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case rest == "" && req.Method == http.MethodGet:
		writeTAXII(w, 200, APIRoot{Title: "Lá Chắn", Versions: []string{MediaType}, MaxContentLength: MaxBody}, nil)
	case rest == "collections/" && req.Method == http.MethodGet:
		writeTAXII(w, 200, Collections{Collections: r.collections(who)}, nil)
	case len(parts) == 2 && parts[0] == "status" && req.Method == http.MethodGet:
		return r.status(w, req.Context(), parts[1])
	case len(parts) == 2 && parts[0] == "collections" && req.Method == http.MethodGet:
		for _, c := range r.collections(who) {
			if c.ID == parts[1] {
				writeTAXII(w, 200, c, nil)
				return nil
			}
		}
		return refuse(404, "unknown collection", "no collection %q open to you", parts[1])
	case len(parts) == 3 && parts[0] == "collections" && parts[2] == "objects":
		return r.objects(w, req, who, parts[1])
	default:
		return refuse(404, "not found", "no TAXII resource at %s %s", req.Method, path)
	}
	return nil
}

// caller is who sent a request: an operator (set by the API), or a
// registered sender by client certificate or token.
type caller struct {
	op     *Operator
	sender *sender
}

func (r *Receiver) caller(req *http.Request) (caller, error) {
	if op, ok := operatorOf(req.Context()); ok {
		return caller{op: &op}, nil
	}
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 {
		// Only a certificate issued to a sender (pki.SignSender) names
		// one: an agent's, from the same CA, never does.
		subj := req.TLS.VerifiedChains[0][0].Subject
		if s, ok := r.senders[subj.CommonName]; ok && slices.Contains(subj.Organization, pki.SenderOrg) {
			return caller{sender: &s}, nil
		}
	}
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		for _, s := range r.senders {
			if len(s.tok) == 32 && subtle.ConstantTimeCompare(s.tok, sum[:]) == 1 {
				return caller{sender: &s}, nil
			}
		}
		return caller{}, refuse(403, "unknown sender", "the token is not registered to any sender")
	}
	return caller{}, refuse(401, "unauthenticated", "present a registered sender's client certificate or token")
}

func (c caller) isAdmin() bool { return c.op != nil && c.op.Role == "admin" }
func (c caller) canReadAll() bool {
	return c.op != nil && (c.op.Role == "admin" || c.op.Role == "analyst")
}

func (r *Receiver) collections(who caller) []Collection {
	var out []Collection
	if who.sender != nil || who.canReadAll() {
		out = append(out, Collection{ID: incidentsID, Title: IncidentsTitle, CanRead: who.canReadAll(), CanWrite: who.sender != nil, MediaTypes: []string{MediaType}})
	}
	return append(out, Collection{ID: indicatorsID, Title: IndicatorsTitle, CanRead: true, CanWrite: who.isAdmin(), MediaTypes: []string{MediaType}})
}

func (r *Receiver) objects(w http.ResponseWriter, req *http.Request, who caller, coll string) error {
	switch {
	case coll == incidentsID && req.Method == http.MethodPost && who.sender != nil:
		return r.addIncidents(w, req, *who.sender)
	case coll == indicatorsID && req.Method == http.MethodPost && who.isAdmin():
		return r.publish(w, req, who.op.Name)
	case req.Method == http.MethodGet && (coll == indicatorsID || coll == incidentsID && who.canReadAll()):
		return r.list(w, req, coll)
	case coll != incidentsID && coll != indicatorsID:
		return refuse(404, "unknown collection", "no collection %q", coll)
	}
	return refuse(403, "forbidden", "%s on this collection is not open to you", req.Method)
}

// readBody checks the media type and reads at most MaxBody bytes.
func readBody(req *http.Request) ([]byte, error) {
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(strings.ReplaceAll(ct, " ", ""), "application/taxii+json") {
		return nil, refuse(415, "unsupported media type", "Content-Type %q, want %s", ct, MediaType)
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		return nil, refuse(400, "bad request", "read body: %v", err)
	}
	if len(b) > MaxBody {
		return nil, refuse(413, "too large", "body over %d bytes", MaxBody)
	}
	return b, nil
}

// addIncidents takes a signed envelope from a sender. Everything is
// checked before anything is written: a refused request leaves no trace
// in the store.
func (r *Receiver) addIncidents(w http.ResponseWriter, req *http.Request, s sender) error {
	body, err := readBody(req)
	if err != nil {
		return err
	}
	kid, err := Verify(req.Header.Get(SignatureHeader), body, func(kid string) (ed25519.PublicKey, bool) {
		x, ok := r.senders[kid]
		return x.pub, ok
	})
	switch {
	case errors.Is(err, ErrUnsigned):
		return refuse(401, "unsigned bundle", "header %s missing: every bundle must carry a detached JWS", SignatureHeader)
	case errors.Is(err, ErrUnknownKey):
		return refuse(403, "unknown sender", "signed with key %q, which is not registered", kid)
	case err != nil:
		return refuse(401, "bad signature", "%v", err)
	case kid != s.Name:
		return refuse(403, "signed by another sender", "authenticated as %q but signed as %q", s.Name, kid)
	}
	objs, err := ParseEnvelope(body)
	if err != nil {
		return refuse(422, "malformed STIX", "%v", err)
	}
	remotes, err := remoteIncidents(objs, s)
	if err != nil {
		return refuse(422, "malformed STIX", "%v", err)
	}
	st, err := r.store(req.Context(), incidentsID, objs, s.Name)
	if err != nil {
		return err
	}
	for _, rm := range remotes {
		if _, changed, err := r.sink.ReceiveRemote(req.Context(), rm); err != nil {
			return fmt.Errorf("file reported incident %s: %w", rm.SourceID, err)
		} else if changed {
			r.log.Info("incident received", "sender", s.Name, "unit", s.Unit, "stix_id", rm.SourceID, "modified", rm.Modified)
		}
	}
	return r.answer(w, req.Context(), st, s.Name, body)
}

// publish takes indicators an administrator publishes for lower tiers.
func (r *Receiver) publish(w http.ResponseWriter, req *http.Request, by string) error {
	body, err := readBody(req)
	if err != nil {
		return err
	}
	objs, err := ParseEnvelope(body)
	if err != nil {
		return refuse(422, "malformed STIX", "%v", err)
	}
	st, err := r.store(req.Context(), indicatorsID, objs, "operator:"+by)
	if err != nil {
		return err
	}
	return r.answer(w, req.Context(), st, by, body)
}

// storedObject is a received object as kept in a collection.
type storedObject struct {
	DateAdded time.Time       `json:"date_added"`
	From      string          `json:"from"`
	Object    json.RawMessage `json:"object"`
}

// store keeps each object version once: a version already held is a
// repeat, counted a success and not written again.
func (r *Receiver) store(ctx context.Context, coll string, objs []Object, from string) (Status, error) {
	now := r.now().UTC()
	st := Status{Status: "complete", TotalCount: len(objs), RequestTime: Timestamp(now)}
	for _, o := range objs {
		raw, err := Encode(o)
		if err != nil {
			return st, err
		}
		doc, _ := json.Marshal(storedObject{DateAdded: now, From: from, Object: raw})
		ver := o.String("modified")
		id := coll + "/" + o.String("id") + "/" + ver
		if _, err := r.st.PutEntity(ctx, KindObject, id, doc, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return st, fmt.Errorf("store %s: %w", o.String("id"), err)
		}
		st.SuccessCount++
		st.Successes = append(st.Successes, StatusDetail{ID: o.String("id"), Version: ver})
	}
	return st, nil
}

// answer writes the status resource (kept for GET status) with an ID
// derived from the sender and the body, so a repeat has the same status.
func (r *Receiver) answer(w http.ResponseWriter, ctx context.Context, st Status, from string, body []byte) error {
	sum := sha256.Sum256(body)
	st.ID = uuid5(namespace, "status|"+from+"|"+hex.EncodeToString(sum[:]))
	doc, _ := json.Marshal(st)
	if _, err := r.st.PutEntity(ctx, KindStatus, st.ID, doc, 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("status %s: %w", st.ID, err)
	}
	writeTAXII(w, http.StatusAccepted, st, nil)
	return nil
}

func (r *Receiver) status(w http.ResponseWriter, ctx context.Context, id string) error {
	doc, _, err := r.st.GetEntity(ctx, KindStatus, id)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(404, "unknown status", "no status %q", id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(200)
	_, err = w.Write(doc)
	return err
}

// PageSize is the most objects one answer to GET objects holds (TAXII
// 2.1 §3.4: the server may cap limit); a client asks for the rest with the
// "next" the answer carries.
const PageSize = 1000

// list answers a poll: the objects added after added_after, oldest first
// (date added, then entity ID), at most limit (≤ PageSize) of them, with
// "more" and "next" when others follow; the body is signed so that the
// poller can tell it came from here.
func (r *Receiver) list(w http.ResponseWriter, req *http.Request, coll string) error {
	q := req.URL.Query()
	var after time.Time
	if s := q.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return refuse(400, "bad added_after", "%q is not a timestamp", s)
		}
		after = t
	}
	limit := PageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return refuse(400, "bad limit", "%q is not a positive number", s)
		}
		limit = min(n, PageSize)
	}
	var from *pageMark
	if s := q.Get("next"); s != "" {
		m, err := parsePageMark(s)
		if err != nil {
			return refuse(400, "bad next", "%v", err)
		}
		from = &m
	}
	ents, err := r.st.ListEntities(req.Context(), KindObject)
	if err != nil {
		return err
	}
	type item struct {
		mark pageMark
		raw  json.RawMessage
	}
	var items []item
	for _, e := range ents {
		if !strings.HasPrefix(e.ID, coll+"/") {
			continue
		}
		var so storedObject
		if err := json.Unmarshal(e.Doc, &so); err != nil {
			return fmt.Errorf("object %s: %w", e.ID, err)
		}
		m := pageMark{so.DateAdded, e.ID}
		if from != nil && m.compare(*from) > 0 || from == nil && so.DateAdded.After(after) {
			items = append(items, item{m, so.Object})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return a.mark.compare(b.mark) })
	env := struct {
		More    bool              `json:"more"`
		Next    string            `json:"next,omitempty"`
		Objects []json.RawMessage `json:"objects"`
	}{Objects: []json.RawMessage{}}
	if len(items) > limit {
		items = items[:limit]
		env.More, env.Next = true, items[limit-1].mark.String()
	}
	hdr := map[string]string{}
	for _, it := range items {
		env.Objects = append(env.Objects, it.raw)
	}
	if len(items) > 0 {
		hdr["X-TAXII-Date-Added-First"] = items[0].mark.at.Format(time.RFC3339Nano)
		hdr["X-TAXII-Date-Added-Last"] = items[len(items)-1].mark.at.Format(time.RFC3339Nano)
	}
	body, err := Encode(env)
	if err != nil {
		return err
	}
	if r.key != nil {
		hdr[SignatureHeader] = Sign(body, r.key, r.name)
	}
	writeRaw(w, 200, body, hdr)
	return nil
}

// pageMark is a place in a collection's order: an object's date added and
// its entity ID, which tells apart the objects one request added at the
// same moment. Its string form is the "next" of an answer.
type pageMark struct {
	at time.Time
	id string
}

func (m pageMark) compare(o pageMark) int {
	if c := m.at.Compare(o.at); c != 0 {
		return c
	}
	return strings.Compare(m.id, o.id)
}

func (m pageMark) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(m.at.UTC().Format(time.RFC3339Nano) + "|" + m.id))
}

func parsePageMark(s string) (pageMark, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageMark{}, fmt.Errorf("%.40q is not a page mark of this server", s)
	}
	at, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" {
		return pageMark{}, fmt.Errorf("%.40q is not a page mark of this server", s)
	}
	return pageMark{t, id}, nil
}

func writeTAXII(w http.ResponseWriter, status int, v any, hdr map[string]string) {
	b, err := Encode(v)
	if err != nil {
		status, b = 500, []byte(`{"title":"internal error"}`)
	}
	writeRaw(w, status, b, hdr)
}

func writeRaw(w http.ResponseWriter, status int, b []byte, hdr map[string]string) {
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// IncidentsCollectionID and IndicatorsCollectionID are the IDs of this
// server's two collections (the same on every Lá Chắn server).
func IncidentsCollectionID() string  { return incidentsID }
func IndicatorsCollectionID() string { return indicatorsID }
