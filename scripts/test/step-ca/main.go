// A minimal step-ca: smallstep's certificate authority library (Debian's golang-github-smallstep-certificates-dev,
// built offline in GOPATH mode) serving the ca.json given as its only argument. Used by scripts/test/stepca-env.sh
// as a second ACME server implementation beside Pebble.
package main

import (
	"log"
	"os"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/ca"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: step-ca CONFIG.json")
	}
	cfg, err := config.LoadConfiguration(os.Args[1])
	if err != nil {
		log.Fatalf("loading %s: %v", os.Args[1], err)
	}
	authority, err := ca.New(cfg, ca.WithConfigFile(os.Args[1]))
	if err != nil {
		log.Fatalf("starting the CA: %v", err)
	}
	if err := authority.Run(); err != nil {
		log.Fatalf("serving: %v", err)
	}
}
