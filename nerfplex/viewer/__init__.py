"""The live web viewer (viser): watch and steer a training run, or look at a finished one.

A thin layer over the model and the trainer: :mod:`.config` (options), :mod:`.time_share` (the lock that
lends the model to renders for a bounded share of the time), :mod:`.frames` (browser camera -> cameras,
rendered outputs -> pictures), :mod:`.keyframes` (camera paths placed in the page), :mod:`.server` (the
page), :mod:`.training` (the trainer hook: pause, checkpoints, statistics). ``nerfplex train --viewer``
and ``nerfplex view RUN`` start it; docs/viewer.md shows the page.
"""
