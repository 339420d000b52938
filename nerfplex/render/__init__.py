"""Ray sampling and marching, occupancy grids (alpha mask, mask cache, occupancy grid), contraction, compositing and
backgrounds."""
