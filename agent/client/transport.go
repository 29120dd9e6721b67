package client

import (
	"net/http"
	"net/url"
)

// ProxyFunc returns the function a transport picks a proxy with, for
// connections made outside a Client (the CA fetch before enrollment).
func (o Options) ProxyFunc() (func(*http.Request) (*url.URL, error), error) {
	return o.proxy()
}
