"""Ray sampling, compositing and backgrounds."""
