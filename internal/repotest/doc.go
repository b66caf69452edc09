// Package repotest holds repository-wide checks of the conventions in
// shared/spec/style.md: every package has exactly one package doc comment,
// internal packages have no init functions, and the dependency list of the
// meshbox binary changes only on purpose (a golden file).
package repotest
