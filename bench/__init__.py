"""`make bench`: the host's speed, round trips and memory (see bench/README.md)."""
