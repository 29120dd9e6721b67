package forward

// TAXII 2.1 resources, as both sides use them.

// MediaType is the TAXII 2.1 media type of every request and answer.
const MediaType = "application/taxii+json;version=2.1"

// APIRootPath is the one API root this server offers, under /taxii2/.
const APIRootPath = "/taxii2/lachan/"

// Discovery is the answer at /taxii2/.
type Discovery struct {
	Title    string   `json:"title"`
	Default  string   `json:"default,omitempty"`
	APIRoots []string `json:"api_roots"`
}

// APIRoot describes an API root.
type APIRoot struct {
	Title            string   `json:"title"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection describes a collection.
type Collection struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	CanRead    bool     `json:"can_read"`
	CanWrite   bool     `json:"can_write"`
	MediaTypes []string `json:"media_types,omitempty"`
}

// Collections lists collections.
type Collections struct {
	Collections []Collection `json:"collections"`
}

// StatusDetail names one object of a status.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Status is a status resource: the outcome of an add-objects request.
type Status struct {
	ID           string         `json:"id"`
	Status       string         `json:"status"` // pending, complete
	RequestTime  string         `json:"request_timestamp,omitempty"`
	TotalCount   int            `json:"total_count"`
	SuccessCount int            `json:"success_count"`
	Successes    []StatusDetail `json:"successes,omitempty"`
	FailureCount int            `json:"failure_count"`
	Failures     []StatusDetail `json:"failures,omitempty"`
	PendingCount int            `json:"pending_count"`
}

// ErrorMessage is a TAXII error answer.
type ErrorMessage struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
}
