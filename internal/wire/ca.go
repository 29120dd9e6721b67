package wire

// PathCA serves the server's CA certificate (PEM) to anyone: it is public,
// and an agent being enrolled takes it only when its SHA-256 equals the
// fingerprint the operator gave (lachan-agent enroll --ca-sha256).
const PathCA = "/api/v1/agent/ca"

// ContentTypePEM is the type of PathCA's answer.
const ContentTypePEM = "application/x-pem-file"
