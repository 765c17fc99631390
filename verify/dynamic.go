package verify

import (
	"bytes"
	"debug/elf"
	"errors"
)

// dynamic is what Preflight needs from an ELF file's dynamic section and
// its version needs, read once: debug/elf's DynString reads .dynamic and
// .dynstr again for every tag asked, and its DynamicVersionNeeds loads the
// whole dynamic symbol table first (45 % of a payload scan); this reads
// each section once (a real bundle's 143 files: 11 → ~5 ms).
type dynamic struct {
	needed  []string
	runpath []string            // DT_RUNPATH entries as written (colon lists not split)
	rpath   []string            // DT_RPATH entries as written
	verneed map[string][]string // library -> symbol versions needed from it, in file order
}

var errDynamic = errors.New("malformed dynamic section")

// readDynamic reads ef's dynamic section (SHT_DYNAMIC, found through the
// section headers: a file without them has none to give, as with
// DynString) and its SHT_GNU_VERNEED section. On an error what could not
// be read is left empty: an unreadable dynamic section gives nothing, an
// unreadable version section no version needs.
func readDynamic(ef *elf.File) (dynamic, error) {
	var d dynamic
	strtabs := map[uint32][]byte{} // .dynamic and .gnu.version_r share .dynstr: read once
	data, strtab, err := sectionAndStrings(ef, elf.SHT_DYNAMIC, strtabs)
	if data == nil || err != nil {
		return d, err
	}
	entry := 16
	if ef.Class == elf.ELFCLASS32 {
		entry = 8
	}
	for off := 0; off+entry <= len(data); off += entry {
		var tag, val uint64
		if entry == 16 {
			tag, val = ef.ByteOrder.Uint64(data[off:]), ef.ByteOrder.Uint64(data[off+8:])
		} else {
			tag, val = uint64(ef.ByteOrder.Uint32(data[off:])), uint64(ef.ByteOrder.Uint32(data[off+4:]))
		}
		var dst *[]string
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			off = len(data) // the end of the entries
			continue
		case elf.DT_NEEDED:
			dst = &d.needed
		case elf.DT_RUNPATH:
			dst = &d.runpath
		case elf.DT_RPATH:
			dst = &d.rpath
		default:
			continue
		}
		s, ok := cstring(strtab, val)
		if !ok {
			return dynamic{}, errDynamic
		}
		*dst = append(*dst, s)
	}
	d.verneed, err = readVerneed(ef, strtabs)
	if err != nil {
		d.verneed = nil // the libraries are still checked, their versions not
	}
	return d, err
}

// readVerneed parses SHT_GNU_VERNEED: a chain of Elf_Verneed records
// (vn_version, vn_cnt u16; vn_file, vn_aux, vn_next u32), each with a
// chain of Elf_Vernaux (vna_hash u32; vna_flags, vna_other u16; vna_name,
// vna_next u32). Offsets are checked against the section; they only go
// forward, and the steps are bounded by its size besides.
func readVerneed(ef *elf.File, strtabs map[uint32][]byte) (map[string][]string, error) {
	data, strtab, err := sectionAndStrings(ef, elf.SHT_GNU_VERNEED, strtabs)
	if data == nil || err != nil {
		return nil, err
	}
	bo := ef.ByteOrder
	m := map[string][]string{}
	budget := len(data)/8 + 1 // every record is at least 16 bytes: more steps than this is a loop
	for off := 0; ; {
		if off < 0 || off+16 > len(data) || budget <= 0 {
			return nil, errDynamic
		}
		budget--
		cnt := int(bo.Uint16(data[off+2:]))
		file, ok := cstring(strtab, uint64(bo.Uint32(data[off+4:])))
		if !ok {
			return nil, errDynamic
		}
		aux := off + int(bo.Uint32(data[off+8:]))
		for i := 0; i < cnt; i++ {
			if aux < 0 || aux+16 > len(data) || budget <= 0 {
				return nil, errDynamic
			}
			budget--
			name, ok := cstring(strtab, uint64(bo.Uint32(data[aux+8:])))
			if !ok {
				return nil, errDynamic
			}
			m[file] = append(m[file], name)
			next := int(bo.Uint32(data[aux+12:]))
			if next == 0 {
				break
			}
			aux += next
		}
		next := int(bo.Uint32(data[off+12:]))
		if next == 0 {
			break
		}
		off += next
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// sectionAndStrings is the data of ef's section of type typ and of the
// string table it links to (nil data when ef has no such section);
// strtabs keeps the string tables read, by section index.
func sectionAndStrings(ef *elf.File, typ elf.SectionType, strtabs map[uint32][]byte) (data, strtab []byte, err error) {
	s := ef.SectionByType(typ)
	if s == nil {
		return nil, nil, nil
	}
	if s.Link == 0 || int(s.Link) >= len(ef.Sections) {
		return nil, nil, errDynamic
	}
	if data, err = s.Data(); err != nil {
		return nil, nil, err
	}
	strtab, ok := strtabs[s.Link]
	if !ok {
		if strtab, err = ef.Sections[s.Link].Data(); err != nil {
			return nil, nil, err
		}
		strtabs[s.Link] = strtab
	}
	return data, strtab, nil
}

// cstring is the NUL-terminated string at off in strtab.
func cstring(strtab []byte, off uint64) (string, bool) {
	if off >= uint64(len(strtab)) {
		return "", false
	}
	b := strtab[off:]
	n := bytes.IndexByte(b, 0)
	if n < 0 {
		return "", false
	}
	return string(b[:n]), true
}
