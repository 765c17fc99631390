package trust

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"aead.dev/minisign"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
)

// SignatureSuffix is appended to a signed file's name (index.json.minisig).
const SignatureSuffix = ".minisig"

// maxKeyFile caps a key or signature file.
const maxKeyFile = 64 << 10

// Key is a pinned minisign public key.
type Key struct {
	pub    minisign.PublicKey
	Source string // where it came from: "pinned key", "pinned key FILE", "built-in key"
}

// ID is the key id as minisign prints it (16 upper-case hex digits).
func (k *Key) ID() string { return fmt.Sprintf("%016X", k.pub.ID()) }

// String is the key in minisign's one-line form (RW...).
func (k *Key) String() string { return k.pub.String() }

// ParseKey reads a public key from s: the one-line base64 form minisign
// prints ("RW..."), the two-line .pub file content with its untrusted
// comment, or the name of such a file. source names where s came from, for
// messages.
func ParseKey(s, source string) (*Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, failure.New(failure.Usage, "%s: empty public key", source)
	}
	text := []byte(s)
	if !looksLikeKey(s) {
		// A regular file only, read with a cap: /dev/zero or a FIFO
		// must not exhaust memory or hang the run (issue 13).
		var err error
		if text, err = safeio.ReadFile(s, maxKeyFile); err != nil {
			if errors.Is(err, safeio.ErrTooLarge) {
				return nil, failure.New(failure.Usage, "%s %s: file too large for a public key", source, s)
			}
			return nil, failure.New(failure.Usage, "%s %q is neither a minisign public key (RW...) nor a readable key file: %w", source, s, err).
				WithHint("pass the key line from the publisher's minisign.pub, or the path of that file")
		}
		source = source + " " + s
	}
	var k minisign.PublicKey
	if err := k.UnmarshalText(pubKeyLine(text)); err != nil {
		return nil, failure.New(failure.Usage, "%s: not a minisign public key: %w", source, err).
			WithHint("a minisign public key is 56 base64 characters starting with RW (see `minisign -G`)")
	}
	return &Key{pub: k, Source: source}, nil
}

// looksLikeKey: a bare key line (RW + 54 base64) or a .pub file's content.
func looksLikeKey(s string) bool {
	if strings.HasPrefix(s, "untrusted comment:") {
		return true
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return strings.HasPrefix(s, "RW") && len(s) == 56 && err == nil
}

// pubKeyLine keeps the key line of a .pub file (minisign writes an
// untrusted comment line first; CRLF and trailing blank lines tolerated).
func pubKeyLine(text []byte) []byte {
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "untrusted comment:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		return text // let the parser say what is wrong
	}
	return []byte(lines[0])
}

// errBadSignature is wrapped by every failed verification.
var errBadSignature = errors.New("signature does not verify")

// Verified describes a good signature.
type Verified struct {
	KeyID          string
	TrustedComment string // signed by the key: minisign puts a timestamp and file name here
	Prehashed      bool
}

// VerifyIndex checks that sig is a minisign signature of index made by k.
// Its error is of class integrity.
func (k *Key) VerifyIndex(index, sig []byte) error {
	_, err := k.Verify(index, sig)
	return err
}

// Verify is VerifyIndex that also returns what the signature says.
func (k *Key) Verify(msg, sig []byte) (*Verified, error) {
	if len(sig) == 0 {
		return nil, failure.New(failure.Integrity, "index signature is empty: %w", errBadSignature)
	}
	if len(sig) > maxKeyFile {
		return nil, failure.New(failure.Integrity, "index signature is too large (%d bytes): %w", len(sig), errBadSignature)
	}
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return nil, failure.New(failure.Integrity, "index signature is not a minisign signature (%v): %w", err, errBadSignature)
	}
	if s.KeyID != k.pub.ID() {
		return nil, failure.New(failure.Integrity, "index is signed by key %016X, but the pinned key is %s: %w", s.KeyID, k.ID(), errBadSignature).
			Suggest(failure.CheckPubKey)
	}
	if !minisign.Verify(k.pub, msg, sig) {
		return nil, failure.New(failure.Integrity, "index signature by key %s does not match the index: %w", k.ID(), errBadSignature).
			WithHint("the index or its signature was altered after signing; do not use this mirror until the publisher re-signs it")
	}
	return &Verified{KeyID: k.ID(), TrustedComment: s.TrustedComment, Prehashed: s.Algorithm == minisign.HashEdDSA}, nil
}

// Signer signs with a minisign secret key.
type Signer struct {
	priv minisign.PrivateKey
}

// ID is the key id as minisign prints it.
func (s *Signer) ID() string { return fmt.Sprintf("%016X", s.priv.ID()) }

// PublicKey returns the matching public key.
func (s *Signer) PublicKey() *Key {
	return &Key{pub: s.priv.Public().(minisign.PublicKey), Source: "secret key"}
}

// LoadSigner reads a minisign secret key file (minisign.key). An encrypted
// key is decrypted with password (the caller's; it is never prompted for);
// a key made with `minisign -G -W` needs none.
func LoadSigner(file, password string) (*Signer, error) {
	b, err := safeio.ReadFile(file, maxKeyFile)
	if errors.Is(err, safeio.ErrTooLarge) {
		return nil, failure.New(failure.Usage, "the signing key %s is too large for a minisign secret key", file)
	}
	if err != nil {
		return nil, failure.New(failure.Usage, "read the signing key: %w", err)
	}
	return ParseSigner(b, password, file)
}

// ParseSigner parses a secret key file's content; password is used only
// when the key is encrypted.
func ParseSigner(b []byte, password, name string) (*Signer, error) {
	b = secretKeyText(b)
	var priv minisign.PrivateKey
	if minisign.IsEncrypted(b) {
		if password == "" {
			return nil, failure.New(failure.Usage, "the signing key %s is encrypted and no password was given (signing never prompts for one)", name).
				Suggest(failure.SetSignPassword).
				WithHint("use a key made with `minisign -G -W`, which has no password")
		}
		k, err := minisign.DecryptKey(password, b)
		if err != nil {
			return nil, failure.New(failure.Usage, "cannot decrypt the signing key %s with the password given: %v", name, err).
				Suggest(failure.SetSignPassword)
		}
		priv = k
	} else if err := priv.UnmarshalText(b); err != nil {
		return nil, failure.New(failure.Usage, "the signing key %s is not a minisign secret key: %v", name, err).
			WithHint("make one with `minisign -G -s KEYFILE -p PUBFILE` (add -W for no password)")
	}
	return &Signer{priv: priv}, nil
}

// secretKeyText keeps the untrusted comment and the key line, dropping
// blank lines and CR so a hand-copied key parses.
func secretKeyText(b []byte) []byte {
	var comment, key string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, "untrusted comment:"):
			comment = l
		case key == "":
			key = l
		default:
			return b
		}
	}
	if comment == "" {
		return []byte(key)
	}
	return []byte(comment + "\n" + key)
}

// Sign returns a prehashed minisign signature of msg (what `minisign -S`
// makes by default) whose trusted comment carries the time and the file
// name, as minisign's own.
func (s *Signer) Sign(msg []byte, fileName string, unixTime int64) []byte {
	r := minisign.NewReader(strings.NewReader(string(msg)))
	buf := make([]byte, 32<<10)
	for {
		if _, err := r.Read(buf); err != nil {
			break
		}
	}
	trusted := "timestamp:" + strconv.FormatInt(unixTime, 10) + "\tfile:" + fileName + "\thashed"
	untrusted := "signature from slurm-installer, minisign secret key " + s.ID()
	return r.SignWithComments(s.priv, trusted, untrusted)
}
