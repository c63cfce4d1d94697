"""The ftwall lab's harness: network namespaces, the agents running in them, and the
ftwall daemon and rules on the lab router. Used by the pytest suite, `make demo` and
`make bench`."""
