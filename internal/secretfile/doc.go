// Package secretfile writes the files that hold secrets (the key-encryption
// key, the development issuer's secret, any other key) and checks, before
// such a file or the data directory is used, that no other user can read or
// change it.
//
// Every secret file of callverify is written by [Write]: exclusive create,
// mode 0600, the data and the directory entry fsynced before it returns, and
// nothing left behind when it fails. It must never log and never put a
// file's contents in an error.
package secretfile
