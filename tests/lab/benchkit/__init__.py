"""`make bench`: measures ftwall against its goals and its baselines (issue 8) and writes
BENCHMARKS.md. Numbers, never assertions: nothing in `make test` runs this."""
