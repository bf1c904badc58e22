// The floor of bench/cluster/run.sh: a validating admission webhook that
// allows everything and does nothing else, so a run through it shows what
// calling any webhook costs this API server, apart from what execgov does.
//
// HTTP/1.1 over TLS, as `execgov webhook` serves (no HTTP/2, which the API
// server would prefer and which would change its cost); it reads only the
// request's uid, keeps nothing and logs nothing. GET /count answers how many
// reviews it allowed, so run.sh can tell the API server calls it.
//
//	nullhook -listen 127.0.0.1:PORT -cert tls.crt -key tls.key
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

type review struct {
	Request struct {
		UID string `json:"uid"`
	} `json:"request"`
}

type answer struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		UID     string `json:"uid"`
		Allowed bool   `json:"allowed"`
	} `json:"response"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HOST:PORT")
	cert := flag.String("cert", "", "serving certificate (PEM)")
	key := flag.String("key", "", "its private key (PEM)")
	flag.Parse()
	var allowed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/validate", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 3<<20))
		var in review
		if err == nil {
			err = json.Unmarshal(body, &in)
		}
		if err != nil || in.Request.UID == "" {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		var out answer
		out.APIVersion, out.Kind = "admission.k8s.io/v1", "AdmissionReview"
		out.Response.UID, out.Response.Allowed = in.Request.UID, true
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(&out); err == nil {
			allowed.Add(1)
		}
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strconv.FormatInt(allowed.Load(), 10)+"\n")
	})
	server := &http.Server{
		Addr:              *listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// A non-nil empty map turns HTTP/2 off.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	log.Fatal(server.ListenAndServeTLS(*cert, *key))
}
