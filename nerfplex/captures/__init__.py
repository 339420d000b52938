"""``nerfplex process-data``: from photos or a video to a scene folder (frames, structure from motion with
pycolmap, the scene writer). Nothing in ``nerfplex.data`` imports this package."""
