"""Image folders: PNG/BMP files of known pixels, sub-folder labels, greyscale, resizing and bad folders."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganctl.data.image_folder import image_folder
from ganctl.errors import UserError


def save(path, pixels, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode).save(path)


def solid(colour, height=4, width=6):
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (height, width, 3))


def all_images(data):
    images = torch.cat([data.train, data.test])
    labels = None if data.train_labels is None else torch.cat([data.train_labels, data.test_labels])
    return images, labels


def test_png_pixels_are_scaled_exactly_and_channels_come_first(tmp_path):
    pattern = np.zeros((4, 6, 3), dtype=np.uint8)
    pattern[0, 0] = (0, 255, 51)
    pattern[3, 5] = (255, 0, 204)
    save(tmp_path / "a.png", pattern)
    save(tmp_path / "b.png", solid((255, 255, 255)))
    data = image_folder(str(tmp_path), test_fraction=0.5)
    assert data.train.shape == (1, 3, 4, 6) and data.test.shape == (1, 3, 4, 6)
    assert data.train_labels is None and data.name == "image_folder"
    images, _ = all_images(data)
    patterned = images[0] if images[0].min() < 0 else images[1]
    assert patterned[:, 0, 0].tolist() == [-1.0, 1.0, pytest.approx(51 / 127.5 - 1, abs=1e-6)]
    assert patterned[:, 3, 5].tolist() == [1.0, -1.0, pytest.approx(204 / 127.5 - 1, abs=1e-6)]
    assert (patterned[:, 1:3] == -1.0).all()


def test_subfolders_are_sorted_class_labels(tmp_path):
    colours = {"dogs": [(200, 0, 0), (201, 0, 0), (202, 0, 0)], "cats": [(0, 100, 0), (0, 101, 0)]}
    for name, shades in colours.items():
        for k, colour in enumerate(shades):
            save(tmp_path / name / f"{k}.png", solid(colour))
    save(tmp_path / "dogs" / "puppies" / "deep.bmp", solid((203, 0, 0)))  # nested: still a dog
    data = image_folder(tmp_path, test_fraction=0.3, seed=4)
    images, labels = all_images(data)
    assert len(images) == 6 and len(data.test) == 2  # round(0.3 * 6)
    is_red = images[:, 0, 0, 0] > 0  # dogs are red, cats green
    assert labels[is_red].tolist() == [1] * 4 and labels[~is_red].tolist() == [0] * 2  # cats=0 < dogs=1


def test_greyscale_uses_pillow_luma(tmp_path):
    save(tmp_path / "red.png", solid((255, 0, 0)))
    save(tmp_path / "white.png", solid((255, 255, 255)))
    data = image_folder(tmp_path, channels=1, test_fraction=0.5)
    images, _ = all_images(data)
    assert images.shape == (2, 1, 4, 6)
    # L = 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2): pure red -> 76 (Pillow truncates 76.2), white -> 255
    assert sorted(images[:, 0, 0, 0].tolist()) == [pytest.approx(76 / 127.5 - 1, abs=1e-6), 1.0]


def test_greyscale_png_read_as_rgb_repeats_the_grey_value(tmp_path):
    save(tmp_path / "g.png", np.full((3, 3), 0, dtype=np.uint8), mode="L")
    save(tmp_path / "h.png", np.full((3, 3), 255, dtype=np.uint8), mode="L")
    images, _ = all_images(image_folder(tmp_path, test_fraction=0.5))
    assert images.shape == (2, 3, 3, 3) and sorted(images[:, :, 0, 0].tolist()) == [[-1.0] * 3, [1.0] * 3]


def test_size_resizes_every_image(tmp_path):
    save(tmp_path / "small.png", solid((0, 255, 0), 4, 6))
    save(tmp_path / "large.png", solid((255, 0, 255), 20, 10))
    data = image_folder(tmp_path, size=8, test_fraction=0.5)
    images, _ = all_images(data)
    assert images.shape == (2, 3, 8, 8)
    # a solid colour stays that colour exactly under bilinear resampling
    assert sorted(tuple(image[:, k, j].tolist()) for image in images for k in (0, 7) for j in (0, 7)) == \
        [(-1.0, 1.0, -1.0)] * 4 + [(1.0, -1.0, 1.0)] * 4


def test_mixed_sizes_without_size_ask_for_data_size(tmp_path):
    save(tmp_path / "a.png", solid((0, 0, 0), 4, 6))
    save(tmp_path / "b.png", solid((0, 0, 0), 5, 6))
    with pytest.raises(UserError, match="data.size=4") as error:
        image_folder(tmp_path)
    assert "a.png is 6x4" in str(error.value) and "b.png is 6x5" in str(error.value)


def test_missing_folder_names_the_path_and_extensions(tmp_path):
    missing = tmp_path / "not-there"
    with pytest.raises(UserError) as error:
        image_folder(missing)
    assert str(missing) in str(error.value) and ".png" in str(error.value)


def test_folder_without_images_names_the_path_and_extensions(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    save(tmp_path / ".hidden.png", solid((0, 0, 0)))  # hidden files are not data
    with pytest.raises(UserError) as error:
        image_folder(tmp_path)
    assert str(tmp_path) in str(error.value) and ".jpeg" in str(error.value) and ".webp" in str(error.value)


def test_unreadable_image_names_the_file(tmp_path):
    save(tmp_path / "good.png", solid((0, 0, 0)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(UserError) as error:
        image_folder(tmp_path)
    assert str(tmp_path / "broken.png") in str(error.value)


def test_images_both_loose_and_in_subfolders_are_refused(tmp_path):
    save(tmp_path / "loose.png", solid((0, 0, 0)))
    save(tmp_path / "cats" / "a.png", solid((0, 0, 0)))
    with pytest.raises(UserError, match="loose.png"):
        image_folder(tmp_path)


def test_same_seed_same_split(tmp_path):
    for k in range(10):
        save(tmp_path / f"{k:02d}.png", solid((k, 0, 0)))
    first, again = image_folder(tmp_path, seed=3), image_folder(tmp_path, seed=3)
    assert torch.equal(first.test, again.test) and len(first.test) == 1


@pytest.mark.parametrize("arguments, key", [({"channels": 4}, "data.channels"), ({"size": 0}, "data.size"),
                                            ({"test_fraction": 1.0}, "data.test_fraction")])
def test_bad_arguments_name_the_key(tmp_path, arguments, key):
    save(tmp_path / "a.png", solid((0, 0, 0)))
    with pytest.raises(UserError, match=key):
        image_folder(tmp_path, **arguments)
