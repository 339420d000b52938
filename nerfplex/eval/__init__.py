"""Score and show a trained model: the view renderer, colour maps, image and surface evaluation, camera
paths and videos, run reports. Image metrics live in :mod:`nerfplex.metrics`, meshes in :mod:`nerfplex.geometry`."""
