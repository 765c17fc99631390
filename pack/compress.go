package pack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
)

// packed is the payload's tar in one compression format, ready to publish.
type packed struct {
	format bundle.Compression // Gzip or Zstd
	suffix string             // ".tar.gz" or ".tar.zst"
	data   []byte
	sum    string // sha256 of data, hex
	name   string // versioned file name, set by publish
	coder  string // what compressed it: "zstd -19 (zstd CLI)", "klauspost/compress", ...
}

// compressAll compresses raw (the payload's tar) into each format, in
// parallel: on the real 22.05.8 payload (15 MB of tar) gzip -9 is most of
// pack's CPU, and zstd beside it then costs no wall time on two cores.
// Both encoders are deterministic: the same tar gives the same bytes (for
// zstd, with the same zstd command, see compress).
func compressAll(ctx context.Context, raw []byte, formats []bundle.Compression) ([]*packed, error) {
	out := make([]*packed, len(formats))
	errs := make([]error, len(formats))
	want := sha256.Sum256(raw)
	var wg sync.WaitGroup
	for i, f := range formats {
		wg.Go(func() {
			if out[i], errs[i] = compress(ctx, raw, f); errs[i] == nil {
				errs[i] = roundTrip(out[i].data, f, want)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, failure.New(failure.Internal, "compress the bundle: %w", err)
		}
	}
	return out, nil
}

// roundTrip decodes data (format) and checks it is exactly raw, whose
// sha256 is want: what is published is the tar the extractor accepted.
func roundTrip(data []byte, format bundle.Compression, want [32]byte) error {
	var r io.Reader
	switch format {
	case Zstd:
		d, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer d.Close()
		r = d
	default:
		g, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return err
		}
		r = g
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("the %s stream does not decode to the packed tar", format)
	}
	return nil
}

// compress is raw in one format: gzip at its best compression (no name,
// no time), or one zstd frame. For zstd the zstd command's level 19 is
// used when one is on PATH (single-threaded, so its output depends only on
// its version: 4.13 MB for the real 22.05.8 payload, 0.71x the gzip),
// else the Go encoder's best level with an 8 MiB window (4.71 MB, 0.80x).
func compress(ctx context.Context, raw []byte, format bundle.Compression) (*packed, error) {
	var data []byte
	suffix, coder := ".tar.gz", "gzip -9 (klauspost/compress)"
	switch format {
	case Zstd:
		suffix = ".tar.zst"
		if cli, err := exec.LookPath("zstd"); err == nil {
			cmd := exec.CommandContext(ctx, cli, "-19", "--single-thread", "-q", "-c", "--no-progress")
			cmd.Stdin = bytes.NewReader(raw)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("%s -19: %w: %s", cli, err, bytes.TrimSpace(stderr.Bytes()))
			}
			data, coder = out, "zstd -19 ("+cli+")"
			break
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
		if err != nil {
			return nil, err
		}
		data = enc.EncodeAll(raw, nil)
		enc.Close()
		coder = "zstd best (klauspost/compress)"
	default:
		var buf bytes.Buffer
		gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := gz.Write(raw); err != nil {
			return nil, err
		}
		if err := gz.Close(); err != nil {
			return nil, err
		}
		data = buf.Bytes()
	}
	sum := sha256.Sum256(data)
	return &packed{format: format, suffix: suffix, data: data, sum: hex.EncodeToString(sum[:]), coder: coder}, nil
}

// publish writes the bundle into apk under its versioned name with a
// .sha256 sidecar, and its aliases: for gzip the seed's arch-less x86_64
// names, for both the latest names when o.Latest; it adds every name's
// digest to sums (for SHA256SUMS).
func (b *packed) publish(apk string, o Options, arch string, sums map[string]bundle.Digest) error {
	b.name = versionedName(o.Version, arch, b.suffix)
	if err := writeAtomic(filepath.Join(apk, b.name), b.data); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(apk, b.name+".sha256"), bundle.FormatSidecar(bundle.Digest(b.sum), b.name)); err != nil {
		return err
	}
	sums[b.name] = bundle.Digest(b.sum)
	var aliases []string
	if arch == platform.X86_64 && b.format == Gzip {
		// The first seed's names carry no arch and were always x86_64.
		aliases = append(aliases, fmt.Sprintf("slurm-client-%s-alpine%s", o.Version, b.suffix))
	}
	if o.Latest {
		aliases = append(aliases, fmt.Sprintf("slurm-client-latest-%s-alpine%s", arch, b.suffix))
		if arch == platform.X86_64 && b.format == Gzip {
			aliases = append(aliases, "slurm-client-latest-alpine"+b.suffix)
		}
	}
	for _, a := range aliases {
		if err := symlinkAtomic(b.name, filepath.Join(apk, a)); err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(apk, a+".sha256"), bundle.FormatSidecar(bundle.Digest(b.sum), a)); err != nil {
			return err
		}
		sums[a] = bundle.Digest(b.sum)
	}
	return nil
}
