"""Sample pictures: pixel values land where they should."""

import torch

from ganctl.engine.images import density_image, image_grid


def test_image_grid_places_each_image_and_maps_minus_one_to_black():
    images = torch.stack([torch.full((1, 32, 32), v) for v in (-1.0, 1.0, 0.0)])  # black, white, mid grey
    grid = image_grid(images, columns=2, pad=2)
    assert grid.shape == (2 * 34 + 2, 2 * 34 + 2, 3)
    assert (grid[2:34, 2:34] == 0).all()          # image 0 at row 0, column 0
    assert (grid[2:34, 36:68] == 255).all()       # image 1 at row 0, column 1
    assert (grid[36:68, 2:34] == 128).all()       # image 2 at row 1: (0 + 1) * 127.5 rounds to 128
    assert (grid[36:68, 36:68] == 0).all()        # the empty cell stays black padding


def test_image_grid_enlarges_small_images_by_pixel_repetition():
    image = torch.tensor([[[-1.0, 1.0], [1.0, -1.0]]]).expand(1, 1, 2, 2)
    grid = image_grid(image, pad=0, min_side=8)
    assert grid.shape == (8, 8, 3)
    assert (grid[:4, :4] == 0).all() and (grid[:4, 4:] == 255).all()


def test_density_image_darkens_the_pixels_where_points_are():
    points = torch.tensor([[0.0, 0.0]] * 50 + [[0.9, 0.9]])
    picture = density_image(points, size=101, extent=1.0)
    assert picture[50, 50, 0] == 0                      # the densest pixel is black
    assert 0 < picture[5, 95, 0] < 255                  # one point at (0.9, 0.9): top right, visible grey
    assert (picture[90:, :10] == 255).all()             # empty bottom-left corner stays white
