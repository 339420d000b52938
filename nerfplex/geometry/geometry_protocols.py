"""Published mesh-evaluation protocols, reimplemented on :mod:`.geometry_metrics` and :mod:`.culling`.

- :func:`evaluate_replica`: MonoSDF's Replica protocol (``replica_eval/cull_mesh.py`` +
  ``eval_recon.py``, adapted there from NICE-SLAM). Distances in metres.
- :func:`evaluate_dtu`: the official DTU MATLAB protocol as re-implemented in Python by
  jzhangbs/DTUeval-python (``eval.py``; MonoSDF ships a copy as ``dtu_eval/eval.py``), with MonoSDF's
  optional mask culling first (``dtu_eval/evaluate_single_scene.py``). Distances in millimetres.

The DTU ground truth (``Points/stl/stl{scan:03}_total.ply``) and observation masks
(``ObsMask/ObsMask{scan}_10.mat``, ``ObsMask/Plane{scan}.mat``) are dataset files: load them with
:func:`load_dtu_stl_points` / :func:`load_dtu_observation`, or pass arrays. See docs/geometry.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from nerfplex.cameras import Cameras
from nerfplex.errors import NerfplexError
from nerfplex.geometry.culling import (
    axis_aligned_box,
    crop_mesh_to_box,
    cull_mesh_by_masks,
    cull_mesh_to_frusta,
    oriented_bounding_box,
    require_faces,
)
from nerfplex.geometry.geometry_metrics import GeometryMetrics, mesh_metrics, nearest_neighbours
from nerfplex.geometry.mesh_io import Mesh
from nerfplex.geometry.point_sampling import RngLike, as_generator, sample_surface_grid

# MonoSDF, replica_eval/eval_recon.py
REPLICA_THRESHOLD = 0.05  # metres: precision / recall / F-score distance (5 cm)
REPLICA_NUM_POINTS = 200_000  # points sampled on each mesh
REPLICA_CROP_SCALE = 1.05  # the reconstruction is cropped to the GT's oriented box x 1.05
# jzhangbs/DTUeval-python, eval.py (millimetres)
DTU_DENSITY = 0.2  # downsampling radius of the reconstruction's points
DTU_PATCH = 60.0  # margin around the observation-mask box
DTU_MAX_DIST = 20.0  # distances at or beyond this are outliers, left out of the means
DTU_MASK_DILATION = 12  # MonoSDF's dilation of the object masks, pixels


def transform_mesh(mesh: Mesh, matrix) -> Mesh:
    """``mesh`` with its vertices mapped by the affine ``matrix [4, 4]`` (or ``[3, 4]``):
    ``x -> A x + t``. Faces and colours are unchanged."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape not in ((4, 4), (3, 4)):
        raise NerfplexError(f"transform must be a [4, 4] or [3, 4] matrix, got shape {list(m.shape)}")
    vertices = np.asarray(mesh.vertices, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]
    return Mesh(vertices, mesh.faces, mesh.vertex_colors)


def evaluate_replica(
    pred: Mesh,
    gt: Mesh,
    cameras: Optional[Cameras],
    *,
    threshold: float = REPLICA_THRESHOLD,
    num_points: int = REPLICA_NUM_POINTS,
    rng: RngLike = 0,
    crop: Optional[str] = "obb",
    crop_scale: float = REPLICA_CROP_SCALE,
    cull_ground_truth: bool = False,
    depth_maps=None,
    depth_tolerance: float = 0.0,
) -> GeometryMetrics:
    """MonoSDF's Replica evaluation of a reconstructed mesh against the ground-truth mesh.

    1. Frustum culling (when ``cameras`` is given): keep the reconstruction's faces that have a
       vertex inside some training camera's image, in front of it (no occlusion test unless
       ``depth_maps`` is given; see :func:`~nerfplex.geometry.culling.points_in_frusta`). MonoSDF's
       ground truth comes pre-culled (``cull_GTmesh``); ``cull_ground_truth=True`` culls a raw one
       the same way.
    2. Crop: keep the reconstruction's faces whose vertices all lie strictly inside the ground
       truth's minimum-volume oriented box (``crop="obb"``; ``"aabb"``: axis-aligned; None: no crop)
       scaled by ``crop_scale`` about its centre.
    3. Sample ``num_points`` points with face normals uniformly by area on each mesh and compute
       :func:`~nerfplex.geometry.geometry_metrics.point_cloud_metrics` at ``threshold``.

    Both meshes and the cameras must share one frame, in metres (MonoSDF first maps its normalised
    reconstruction back with the scene's ``scale_mat``: see :func:`transform_mesh`). MonoSDF prints
    accuracy, completion (x100: cm), precision, recall, F-score and the normal metrics (x100: %).
    MonoSDF draws a second, separate set of points for the normal metrics; here one set serves both
    (the same distribution).
    """
    if cameras is not None:
        pred = require_faces(
            cull_mesh_to_frusta(pred, cameras, depth_maps=depth_maps, depth_tolerance=depth_tolerance),
            "frustum culling",
            "Check that the mesh and the cameras share one frame (a normalised "
            "reconstruction must be mapped back with the scene's scale matrix).",
        )
        if cull_ground_truth:
            gt = cull_mesh_to_frusta(gt, cameras, depth_maps=depth_maps, depth_tolerance=depth_tolerance)
    if crop is not None:
        if crop not in ("obb", "aabb"):
            raise NerfplexError(f"replica evaluation: crop must be 'obb', 'aabb' or None, got {crop!r}")
        gt_vertices = np.asarray(gt.vertices, dtype=np.float64)[np.unique(np.asarray(gt.faces))]
        box = (oriented_bounding_box if crop == "obb" else axis_aligned_box)(gt_vertices)
        pred = require_faces(
            crop_mesh_to_box(pred, box, crop_scale),
            f"cropping to the ground truth's bounding box x {crop_scale}",
            "Check that both meshes share one frame and units (metres); a flat "
            "ground truth has a box of zero thickness: use crop=None.",
        )
    return mesh_metrics(pred, gt, threshold, num_points, rng)


@dataclass(frozen=True)
class DTUObservation:
    """DTU's evaluation volume for one scan (millimetres).

    Attributes:
        obs_mask: ``[X, Y, Z]`` bool voxels: where the structured-light scanner observed the scene
            (``ObsMask`` of ``ObsMask{scan}_10.mat``).
        bb: ``[2, 3]`` min / max corners of the mask's box (``BB``), kept float32 as DTUeval-python.
        res: voxel size (``Res``).
        plane: ``[4]`` ground plane ``P`` (``Plane{scan}.mat``); ground-truth points with
            ``P . (x, y, z, 1) > 0`` are evaluated.
    """

    obs_mask: np.ndarray
    bb: np.ndarray
    res: float
    plane: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))

    def __post_init__(self):
        obs = np.asarray(self.obs_mask)
        bb = np.asarray(self.bb, dtype=np.float32)
        plane = np.asarray(self.plane, dtype=np.float64).reshape(-1)
        res = float(np.asarray(self.res).reshape(-1)[0]) if np.size(self.res) == 1 else None
        if obs.ndim != 3:
            raise NerfplexError(f"DTU observation mask must be a 3-D voxel array, got shape {list(obs.shape)}")
        if bb.shape != (2, 3) or not np.all(bb[1] >= bb[0]):
            raise NerfplexError(
                f"DTU observation box BB must be [[xmin, ymin, zmin], [xmax, ymax, zmax]], "
                f"got {np.asarray(self.bb).tolist()}"
            )
        if res is None or not res > 0:
            raise NerfplexError(f"DTU observation voxel size Res must be one positive number, got {self.res!r}")
        if plane.shape != (4,):
            raise NerfplexError(f"DTU ground plane P must have 4 coefficients, got shape {list(plane.shape)}")
        object.__setattr__(self, "obs_mask", obs != 0)
        object.__setattr__(self, "bb", bb)
        object.__setattr__(self, "res", res)
        object.__setattr__(self, "plane", plane)


@dataclass(frozen=True)
class DTUMetrics:
    """DTU Chamfer distances in millimetres: ``accuracy`` (reconstruction to ground truth, points in
    the observation mask), ``completion`` (ground truth above the plane to the reconstruction in the
    enlarged box), ``overall`` = their mean; both means leave out distances >= ``max_dist``. The counts
    are of the downsampled reconstruction, of its points in the mask, and of the ground-truth points
    above the plane."""

    accuracy: float
    completion: float
    overall: float
    num_points: int
    num_points_in_mask: int
    num_gt_points: int

    def as_dict(self) -> dict:
        return asdict(self)


def _mat_file(path: Path, keys: tuple[str, ...]) -> dict:
    if not path.is_file():
        raise NerfplexError(
            f"DTU evaluation file {str(path)!r} does not exist. Download the official DTU evaluation "
            "data (SampleSet 'MVS Data' with ObsMask/ and Points/stl/) and pass its folder as the DTU "
            "dataset directory."
        )
    from scipy.io import loadmat

    try:
        data = loadmat(str(path))
    except Exception as exc:  # scipy raises several types for malformed files
        raise NerfplexError(f"could not read DTU file {str(path)!r}: {exc}") from exc
    missing = [k for k in keys if k not in data]
    if missing:
        raise NerfplexError(f"DTU file {str(path)!r} lacks {', '.join(missing)}; is it the right file?")
    return data


def load_dtu_observation(dataset_dir, scan: int) -> DTUObservation:
    """Read ``ObsMask/ObsMask{scan}_10.mat`` and ``ObsMask/Plane{scan}.mat`` under ``dataset_dir``."""
    root = Path(dataset_dir)
    obs = _mat_file(root / "ObsMask" / f"ObsMask{scan}_10.mat", ("ObsMask", "BB", "Res"))
    plane = _mat_file(root / "ObsMask" / f"Plane{scan}.mat", ("P",))
    return DTUObservation(obs["ObsMask"], obs["BB"], obs["Res"], plane["P"])


def load_dtu_stl_points(dataset_dir, scan: int) -> np.ndarray:
    """The ground-truth points ``[M, 3]`` (mm) of ``Points/stl/stl{scan:03}_total.ply``."""
    from nerfplex.geometry.mesh_io import _open3d

    path = Path(dataset_dir) / "Points" / "stl" / f"stl{scan:03}_total.ply"
    if not path.is_file():
        raise NerfplexError(
            f"DTU ground-truth points {str(path)!r} do not exist. Download the official "
            "DTU evaluation data (SampleSet 'MVS Data', Points/stl/) and pass its folder."
        )
    points = np.asarray(_open3d().io.read_point_cloud(str(path)).points, dtype=np.float64)
    if len(points) == 0:
        raise NerfplexError(f"DTU ground-truth file {str(path)!r} holds no points")
    return points


def radius_downsample(points, radius: float, rng: RngLike = 0) -> np.ndarray:
    """DTUeval-python's thinning: shuffle the points, then visit them in that order and keep each one
    that no kept point lies within ``radius`` of (distance <= radius).

    The sequential rule is evaluated in vectorised rounds: a point is kept once all its earlier
    neighbours are dropped, and dropped once an earlier neighbour is kept; the result is exactly the
    sequential one.

    Returns:
        indices ``[K]`` (int64) of the kept points, in the shuffled visiting order.
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    order = as_generator(rng).permutation(len(pts))
    pairs = cKDTree(pts[order]).query_pairs(radius, output_type="ndarray")  # [Q, 2], i < j
    earlier, later = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    undecided, kept, dropped = 0, 1, 2
    state = np.zeros(len(pts), dtype=np.int8)
    while True:
        waiting = state == undecided
        if not waiting.any():
            break
        has_kept = np.zeros(len(pts), dtype=bool)
        has_kept[later[state[earlier] == kept]] = True
        blocked = np.zeros(len(pts), dtype=bool)
        blocked[later[state[earlier] == undecided]] = True
        state[waiting & has_kept] = dropped
        state[waiting & ~has_kept & ~blocked] = kept
        live = (state[later] == undecided) & (state[earlier] != dropped)
        earlier, later = earlier[live], later[live]
    return order[np.flatnonzero(state == kept)]


def dtu_observation_filter(
    points, observation: DTUObservation, patch: float = DTU_PATCH
) -> tuple[np.ndarray, np.ndarray]:
    """DTUeval-python's masks of reconstructed points ``[P, 3]`` (mm).

    Returns:
        ``in_box [P]``: inside the observation box enlarged by ``patch`` below and ``2 * patch``
        above (``bb[0] - patch <= x < bb[1] + 2 * patch`` on every axis, as the original);
        ``in_mask [P]``: in the box and in an observed voxel (``round((x - bb[0]) / res)`` inside the
        grid, where ``obs_mask`` is set).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    bb = observation.bb
    in_box = ((pts >= bb[:1] - patch) & (pts < bb[1:] + patch * 2)).all(axis=-1)
    grid = np.around((pts[in_box] - bb[:1]) / observation.res).astype(np.int64)
    shape = np.array(observation.obs_mask.shape)
    in_grid = ((grid >= 0) & (grid < shape)).all(axis=-1)
    observed = np.zeros(len(grid), dtype=bool)
    g = grid[in_grid]
    observed[np.flatnonzero(in_grid)] = observation.obs_mask[g[:, 0], g[:, 1], g[:, 2]]
    in_mask = np.zeros(len(pts), dtype=bool)
    in_mask[np.flatnonzero(in_box)] = observed
    return in_box, in_mask


def evaluate_dtu(
    pred: Union[Mesh, np.ndarray],
    gt_points,
    observation: DTUObservation,
    *,
    density: float = DTU_DENSITY,
    patch: float = DTU_PATCH,
    max_dist: float = DTU_MAX_DIST,
    rng: RngLike = 0,
    cameras: Optional[Cameras] = None,
    masks=None,
    dilation_radius: int = DTU_MASK_DILATION,
    to_world=None,
) -> DTUMetrics:
    """The DTU protocol (DTUeval-python) for a mesh or a point cloud.

    0. Optional, MonoSDF: with ``cameras`` and object ``masks [N, H, W]``, drop the faces that some
       image sees outside its mask dilated by ``dilation_radius`` px
       (:func:`~nerfplex.geometry.culling.cull_mesh_by_masks`), in the cameras' frame; then map the mesh
       with ``to_world`` ``[4, 4]`` (MonoSDF: the scene's ``scale_mat``) into DTU's frame.
    1. Points: a mesh is sampled with :func:`~nerfplex.geometry.point_sampling.sample_surface_grid` at
       ``density`` (its vertices included); a point cloud ``[P, 3]`` is used as is.
    2. Thinning: :func:`radius_downsample` with radius ``density``.
    3. Accuracy: distances from the thinned points inside the observation mask
       (:func:`dtu_observation_filter`) to the nearest ground-truth point; mean of those < ``max_dist``.
    4. Completion: distances from the ground-truth points above the plane to the nearest thinned
       point inside the ``patch``-enlarged box (mask not applied); mean of those < ``max_dist``.
    5. Overall: the mean of the two.

    Args:
        gt_points: ``[M, 3]`` the scan's STL points (:func:`load_dtu_stl_points`), mm.
        observation: :class:`DTUObservation` (:func:`load_dtu_observation`).
        rng: a Generator or seed for the shuffle before thinning (DTUeval-python leaves it unseeded).
    """
    if (cameras is None) != (masks is None):
        raise NerfplexError("DTU evaluation: mask culling needs both cameras and masks (or neither)")
    if isinstance(pred, Mesh):
        if masks is not None:
            pred = require_faces(
                cull_mesh_by_masks(pred, cameras, masks, dilation_radius),
                "mask culling",
                "Check that the mesh and the cameras share one frame (the normalised one the masks' cameras use).",
            )
        if to_world is not None:
            pred = transform_mesh(pred, to_world)
        points = sample_surface_grid(pred.vertices, pred.faces, density)
    else:
        if masks is not None or to_world is not None:
            raise NerfplexError(
                "DTU evaluation: mask culling and to_world apply to meshes only; "
                "pass point clouds already in DTU's frame"
            )
        points = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise NerfplexError("DTU evaluation: the reconstruction has no points")
    gt = np.asarray(gt_points, dtype=np.float64).reshape(-1, 3)
    if len(gt) == 0:
        raise NerfplexError("DTU evaluation: the ground-truth point set is empty")
    down = points[radius_downsample(points, density, rng)]
    in_box, in_mask = dtu_observation_filter(down, observation, patch)
    hint = (
        "Check that the reconstruction is in DTU's frame, in millimetres (MonoSDF maps its "
        "normalised mesh with the scene's scale_mat: pass it as to_world)."
    )
    if not in_mask.any():
        raise NerfplexError(f"DTU evaluation: no reconstructed point lies in the observation mask. {hint}")
    dist_d2s, _ = nearest_neighbours(down[in_mask], gt)
    plane = observation.plane
    above = gt @ plane[:3] + plane[3] > 0
    if not above.any():
        raise NerfplexError("DTU evaluation: no ground-truth point lies above the ground plane")
    dist_s2d, _ = nearest_neighbours(gt[above], down[in_box])
    inliers_d2s, inliers_s2d = dist_d2s[dist_d2s < max_dist], dist_s2d[dist_s2d < max_dist]
    if len(inliers_d2s) == 0 or len(inliers_s2d) == 0:
        raise NerfplexError(f"DTU evaluation: every distance is at least max_dist = {max_dist} mm. {hint}")
    accuracy, completion = float(inliers_d2s.mean()), float(inliers_s2d.mean())
    return DTUMetrics(
        accuracy=accuracy,
        completion=completion,
        overall=0.5 * (accuracy + completion),
        num_points=len(down),
        num_points_in_mask=int(in_mask.sum()),
        num_gt_points=int(above.sum()),
    )
