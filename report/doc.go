// Package report defines the JSON results the shears command prints with
// --json: one typed struct per command, each carrying the schema version
// and the provenance of the figures (module version and commit, Go
// version, CPU features, threads), so that a results file says what
// produced it.
//
// Field names are stable: a change that renames or removes one bumps
// Version. Adding fields does not.
package report
