package trust

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"

	"slurm-installer/internal/failure"
)

const index = `{"schema":1,"serial":3,"bundles":[]}` + "\n"

func newSigner(t *testing.T) (*Signer, *Key) {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{priv: priv}, &Key{pub: pub, Source: "test"}
}

func wantIntegrity(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("verified, want a failure")
	}
	if failure.ClassOf(err) != failure.Integrity || !errors.Is(err, errBadSignature) {
		t.Fatalf("error %v: class %v, want integrity wrapping errBadSignature", err, failure.ClassOf(err))
	}
}

func TestSignVerify(t *testing.T) {
	s, k := newSigner(t)
	sig := s.Sign([]byte(index), "index.json", 1700000000)
	v, err := k.Verify([]byte(index), sig)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Prehashed || v.TrustedComment != "timestamp:1700000000\tfile:index.json\thashed" || v.KeyID != s.ID() {
		t.Fatalf("verified %+v", v)
	}
	// Legacy (non-prehashed) signatures verify too.
	if err := k.VerifyIndex([]byte(index), minisign.Sign(s.priv, []byte(index))); err != nil {
		t.Fatalf("legacy signature: %v", err)
	}

	// One changed byte in the index, the signature, or the trusted comment fails.
	wantIntegrity(t, k.VerifyIndex([]byte(strings.Replace(index, "3", "4", 1)), sig))
	lines := strings.Split(string(sig), "\n")
	tc := append([]string{}, lines...)
	tc[2] = strings.Replace(tc[2], "1700000000", "1800000000", 1)
	wantIntegrity(t, k.VerifyIndex([]byte(index), []byte(strings.Join(tc, "\n"))))
	bad := bytes.Clone(sig)
	i := bytes.IndexByte(bad, '\n') + 20
	bad[i] ^= 1
	wantIntegrity(t, k.VerifyIndex([]byte(index), bad))
	wantIntegrity(t, k.VerifyIndex([]byte(index), nil))
	wantIntegrity(t, k.VerifyIndex([]byte(index), []byte("not a signature")))

	// Another key's signature names that key.
	other, _ := newSigner(t)
	err = k.VerifyIndex([]byte(index), other.Sign([]byte(index), "index.json", 1))
	wantIntegrity(t, err)
	if !strings.Contains(err.Error(), other.ID()) || !strings.Contains(err.Error(), k.ID()) {
		t.Fatalf("error does not name both keys: %v", err)
	}
	// ... and the remedy is to check the pinned key (the app words it).
	if !slices.Contains(failure.Steps(err), failure.CheckPubKey) {
		t.Fatalf("another key: remedies %v, want CheckPubKey", failure.Steps(err))
	}
}

func TestParseKey(t *testing.T) {
	_, k := newSigner(t)
	line := k.String()
	if !strings.HasPrefix(line, "RW") || len(line) != 56 {
		t.Fatalf("key line %q", line)
	}
	pubText, _ := k.pub.MarshalText()
	dir := t.TempDir()
	file := filepath.Join(dir, "minisign.pub")
	os.WriteFile(file, append(pubText, '\n'), 0o644)
	crlf := filepath.Join(dir, "crlf.pub")
	os.WriteFile(crlf, []byte(strings.ReplaceAll(string(pubText), "\n", "\r\n")+"\r\n\r\n"), 0o644)
	for _, in := range []string{line, " " + line + "\n", string(pubText), file, crlf} {
		got, err := ParseKey(in, "pinned key")
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", in, err)
		}
		if got.ID() != k.ID() {
			t.Fatalf("ParseKey(%q) id %s, want %s", in, got.ID(), k.ID())
		}
	}
	for _, in := range []string{"", "RWnotakey", filepath.Join(dir, "missing.pub"), line[:55] + "!", dir} {
		if _, err := ParseKey(in, "pinned key"); err == nil || failure.ClassOf(err) != failure.Usage {
			t.Fatalf("ParseKey(%q) = %v, want a usage error", in, err)
		}
	}
}

func TestParseSigner(t *testing.T) {
	s, k := newSigner(t)
	text, _ := s.priv.MarshalText()
	got, err := ParseSigner(append(text, '\n'), "", "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.PublicKey().ID() != k.ID() {
		t.Fatal("wrong key")
	}
	if _, err := ParseSigner([]byte("untrusted comment: x\nAAAA\n"), "", "k"); failure.ClassOf(err) != failure.Usage {
		t.Fatalf("garbage key: %v", err)
	}
}

// minisignTool returns the path of the standard minisign binary or skips.
func minisignTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		t.Skip("the minisign tool is not installed (scripts/deps.sh installs it)")
	}
	return p
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Interop, both directions, with a password-less key made by minisign -G -W.
func TestInteropMinisignTool(t *testing.T) {
	ms := minisignTool(t)
	dir := t.TempDir()
	pub, sec := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
	run(t, "", ms, "-G", "-W", "-p", pub, "-s", sec)
	idx := filepath.Join(dir, "index.json")
	os.WriteFile(idx, []byte(index), 0o644)

	// minisign signs (prehashed, and legacy with -l) → we verify, with the key as a file and as a line.
	run(t, "", ms, "-S", "-s", sec, "-m", idx)
	run(t, "", ms, "-S", "-l", "-s", sec, "-m", idx, "-x", idx+".legacy")
	k, err := ParseKey(pub, "pinned key")
	if err != nil {
		t.Fatal(err)
	}
	pubLine := strings.TrimSpace(strings.Split(mustRead(t, pub), "\n")[1])
	kl, err := ParseKey(pubLine, "pinned key")
	if err != nil || kl.ID() != k.ID() {
		t.Fatalf("key line: %v", err)
	}
	for _, sig := range []string{idx + ".minisig", idx + ".legacy"} {
		v, err := k.Verify([]byte(index), []byte(mustRead(t, sig)))
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(sig), err)
		}
		if !strings.Contains(v.TrustedComment, "file:index.json") {
			t.Fatalf("trusted comment %q", v.TrustedComment)
		}
	}
	wantIntegrity(t, k.VerifyIndex([]byte(index+" "), []byte(mustRead(t, idx+".minisig"))))

	// We sign with minisign's secret key → minisign -V accepts, and rejects a tampered file.
	s, err := LoadSigner(sec, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(idx+".minisig", s.Sign([]byte(index), "index.json", 1700000000), 0o644)
	out := run(t, "", ms, "-V", "-m", idx, "-p", pub)
	if !strings.Contains(out, "Signature and comment signature verified") || !strings.Contains(out, "file:index.json") {
		t.Fatalf("minisign -V said:\n%s", out)
	}
	run(t, "", ms, "-V", "-H", "-m", idx, "-P", pubLine) // prehashed, as minisign -H requires
	os.WriteFile(idx, []byte(index+" "), 0o644)
	if out, err := exec.Command(ms, "-V", "-m", idx, "-p", pub).CombinedOutput(); err == nil {
		t.Fatalf("minisign -V accepted a tampered index:\n%s", out)
	}
}

// cheapEncryptedKey encrypts s's key the way minisign does, with the
// cheapest scrypt cost it reads (minisign -G's own costs ~3 s and 1 GiB).
func cheapEncryptedKey(t *testing.T, s *Signer, password string) []byte {
	t.Helper()
	text, _ := s.priv.MarshalText()
	raw, err := base64.StdEncoding.DecodeString(strings.Split(string(text), "\n")[1])
	if err != nil || len(raw) != 158 {
		t.Fatalf("unencrypted key: %v", err)
	}
	plain := raw[54:126]                           // key id || ed25519 key
	binary.LittleEndian.PutUint16(raw[2:], 0x6353) // "Sc": scrypt
	salt := raw[6:38]
	for i := range salt {
		salt[i] = byte(i)
	}
	const ops, mem = 1 << 15, 1 << 20
	binary.LittleEndian.PutUint64(raw[38:], ops)
	binary.LittleEndian.PutUint64(raw[46:], mem)
	ks, err := scrypt.Key([]byte(password), salt, 1<<10, 8, 1, 104) // minisign's mapping of (ops, mem)
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte{0x45, 0x64}, plain...)
	tag := blake2b.Sum256(msg)
	ct := append(bytes.Clone(plain), tag[:]...)
	for i := range ct {
		ct[i] ^= ks[i]
	}
	copy(raw[54:], ct)
	return []byte("untrusted comment: minisign encrypted secret key\n" + base64.StdEncoding.EncodeToString(raw) + "\n")
}

// An encrypted key needs the password the caller passes; without it
// signing is refused before anything is done, and the remedy is to give the
// password (the app words it). The minisign tool reads the same file.
func TestEncryptedKey(t *testing.T) {
	s, k := newSigner(t)
	dir := t.TempDir()
	sec := filepath.Join(dir, "e.key")
	os.WriteFile(sec, cheapEncryptedKey(t, s, "s3cret"), 0o600)

	_, err := LoadSigner(sec, "")
	if err == nil || failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "encrypted and no password was given") ||
		!slices.Contains(failure.Steps(err), failure.SetSignPassword) {
		t.Fatalf("encrypted key without password: %v (remedies %v)", err, failure.Steps(err))
	}
	if _, err := LoadSigner(sec, "not-the-pw-42"); err == nil || !strings.Contains(err.Error(), "cannot decrypt") ||
		strings.Contains(err.Error(), "not-the-pw-42") || !slices.Contains(failure.Steps(err), failure.SetSignPassword) {
		t.Fatalf("wrong password: %v (remedies %v)", err, failure.Steps(err))
	}
	got, err := LoadSigner(sec, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != s.ID() {
		t.Fatal("decrypted another key")
	}
	if err := k.VerifyIndex([]byte(index), got.Sign([]byte(index), "index.json", 1)); err != nil {
		t.Fatal(err)
	}

	// The standard tool decrypts the same file with the same password and signs.
	ms, lerr := exec.LookPath("minisign")
	if lerr != nil {
		t.Skip("the minisign tool is not installed (scripts/deps.sh installs it)")
	}
	idx := filepath.Join(dir, "index.json")
	os.WriteFile(idx, []byte(index), 0o644)
	run(t, "s3cret\n", ms, "-S", "-s", sec, "-m", idx)
	if err := k.VerifyIndex([]byte(index), []byte(mustRead(t, idx+".minisig"))); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
