import torch

from nerfplex.render.box_grid import grid_vertices

BOX = torch.tensor([[-1.0, -2.0, 0.0], [1.0, 2.0, 3.0]])


def test_vertices_span_the_box_in_xyz_order():
    vertices = grid_vertices(BOX, [3, 5, 4])
    assert vertices.shape == (3, 5, 4, 3)
    torch.testing.assert_close(vertices[0, 0, 0], BOX[0])
    torch.testing.assert_close(vertices[-1, -1, -1], BOX[1])
    torch.testing.assert_close(vertices[1, 2, 0], torch.tensor([0.0, 0.0, 0.0]))
