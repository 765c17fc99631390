// Package platform names CPU architectures the way AppHub does and maps
// between the spellings used by mirrors, Go and ELF headers.
package platform

import (
	"debug/elf"
	"fmt"
	"runtime"
	"strings"
)

// Canonical architecture names: the spelling AppHub's seeds use.
const (
	X86_64  = "x86_64"
	AArch64 = "aarch64"
)

// Normalize returns the canonical name for an architecture spelling
// (x86_64 ≡ amd64, aarch64 ≡ arm64), or an error naming the accepted ones.
func Normalize(arch string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(arch)) {
	case "x86_64", "amd64", "x86-64":
		return X86_64, nil
	case "aarch64", "arm64":
		return AArch64, nil
	}
	return "", fmt.Errorf("unknown architecture %q (use x86_64/amd64 or aarch64/arm64)", arch)
}

// Aliases returns every spelling of a canonical arch, canonical first, so a
// mirror's own spelling can be tried.
func Aliases(arch string) []string {
	switch arch {
	case X86_64:
		return []string{X86_64, "amd64"}
	case AArch64:
		return []string{AArch64, "arm64"}
	}
	return []string{arch}
}

// GoArch returns Go's GOARCH spelling of a canonical arch.
func GoArch(arch string) string {
	switch arch {
	case X86_64:
		return "amd64"
	case AArch64:
		return "arm64"
	}
	return arch
}

// Host returns the canonical arch of the running binary, or "" when it is
// not one AppHub serves.
func Host() string {
	a, err := Normalize(runtime.GOARCH)
	if err != nil {
		return ""
	}
	return a
}

// FromELF maps an ELF machine to a canonical arch name, or "" if unknown.
func FromELF(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return X86_64
	case elf.EM_AARCH64:
		return AArch64
	}
	return ""
}

// ELFMachine maps a canonical arch to its ELF machine.
func ELFMachine(arch string) elf.Machine {
	switch arch {
	case X86_64:
		return elf.EM_X86_64
	case AArch64:
		return elf.EM_AARCH64
	}
	return elf.EM_NONE
}

// MuslLoader is the musl dynamic loader's path for a canonical arch.
func MuslLoader(arch string) string { return "/lib/ld-musl-" + arch + ".so.1" }

// GlibcLoader is the glibc dynamic loader's path for a canonical arch.
func GlibcLoader(arch string) string {
	switch arch {
	case X86_64:
		return "/lib64/ld-linux-x86-64.so.2"
	case AArch64:
		return "/lib/ld-linux-aarch64.so.1"
	}
	return ""
}
