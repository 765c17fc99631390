package app

// DefaultPubKey is the minisign public key pinned when --pubkey is not
// given. Image builders bake their publisher's key into the binary:
//
//	go build -ldflags "-X slurm-installer/internal/app.DefaultPubKey=RW..."
//
// (make build PUBKEY=RW...). Empty means no key is built in.
var DefaultPubKey string
