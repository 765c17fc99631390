// Package trust pins a minisign public key and checks AppHub's signed
// index.json with it; on the publisher side it loads a minisign secret key
// and signs the index package pack writes.
//
// Keys and signatures are the standard minisign formats, so an operator
// can sign with `minisign -S` and check with `minisign -V` instead of
// (or as well as) this installer.
//
// # Invariants
//
//   - [Key.VerifyIndex] accepts an index only when the signature was made by
//     the pinned key over exactly these bytes (prehashed or legacy Ed25519,
//     as minisign makes them) and its trusted comment verifies too; any
//     other outcome is an error of class integrity (exit 5).
//   - A key is only ever parsed from the operator's side (a flag, a file,
//     or the value baked in at build time), never from a mirror.
//   - An encrypted secret key is decrypted only with the password the
//     caller passes (the CLI takes it from its environment); without it
//     signing is refused, never prompted for (pack runs in CI).
package trust
