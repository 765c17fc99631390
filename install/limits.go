package install

// Limits cap what an archive may expand to (docs/DESIGN.md §6). Zero values mean
// the defaults.
type Limits struct {
	MaxSize    int64 // total bytes of regular files
	MaxEntries int   // number of entries of any kind
}

// Default limits: a real bundle is ~15 MB unpacked in ~150 entries.
const (
	defaultMaxSize    = 2 << 30 // 2 GiB
	defaultMaxEntries = 20000
)

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = defaultMaxSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = defaultMaxEntries
	}
	return l
}
