// Package e2e holds black-box end-to-end tests of the confrun binary against
// the lab cluster (build tag e2e; `make e2e` brings the lab up). They run
// the commands a user runs, in the order a user runs them.
package e2e
