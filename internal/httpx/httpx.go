// Package httpx is how every mirror client reads over HTTP (AppHub
// mirrors in fetch, registries in oci): the one transport (the proxy from
// the environment, bounded connect, TLS handshake and header waits, TLS
// 1.2 or newer, extra CAs the caller has already loaded), the one
// resumable downloader (Download, with the stall watchdog Watch), the one
// error-kind type (Kind) and the one classification of HTTP statuses.
// Nothing here reads a file or a flag.
package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// Transport is an HTTP transport that waits at most connect for a TCP
// connection and a TLS handshake and at most header for response headers,
// and trusts roots (nil: the system's CAs) for TLS.
func Transport(connect, header time.Duration, roots *x509.CertPool) *http.Transport {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return tr
}

// CertPool is the system's CA pool plus the certificates in pem; ok is
// false when pem holds none.
func CertPool(pem []byte) (pool *x509.CertPool, ok bool) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	return roots, roots.AppendCertsFromPEM(pem)
}
