// Package policies holds Verdict's default Rego policies and their data. The
// files are the source of truth on disk (served and watched by `verdict
// serve --policies policies`); this package only builds a copy into the
// binary so that `verdict dev` runs anywhere.
package policies

import "embed"

// Bundled is the default policy set as shipped with this build.
//
//go:embed *.json
var Bundled embed.FS
