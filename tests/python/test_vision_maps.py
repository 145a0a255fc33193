"""attnkit.vision: attention maps written as PNGs over their images.

The files are decoded with PIL (nobody here wrote it) and checked pixel by
pixel against what the map and the options say: the map's extremes carry
viridis' end colours, boxes and paths are red where they were asked for, and
a spatial transformer's sampling density sums to the number of output pixels
and matches a NumPy re-count of grid_sample's bilinear taps.
"""

import numpy as np
import pytest
import torch

import attnkit
from attnkit import vision

from PIL import Image as PIL

VIRIDIS_LOW = (68, 1, 84)
VIRIDIS_HIGH = (253, 231, 37)


def read_png(path):
    return np.asarray(PIL.open(path).convert("RGB"))


def test_map_over_image_uses_the_maps_colours(tmp_path):
    attention = np.zeros((4, 4), np.float32)
    attention[:, 2:] = 1.0
    path = tmp_path / "map.png"
    vision.save_map(path, torch.rand(3, 4, 4), attention, alpha=1.0, scale=2)
    pixels = read_png(path)
    assert pixels.shape == (8, 8, 3)
    assert tuple(pixels[0, 0]) == VIRIDIS_LOW
    assert tuple(pixels[7, 7]) == VIRIDIS_HIGH


def test_alpha_zero_leaves_the_image_stretched_to_grey(tmp_path):
    image = attnkit.zeros(5, 5)
    image[2, 3] = 7.0
    path = tmp_path / "image.png"
    vision.save_map(path, image, attnkit.rand(5, 5), alpha=0.0, scale=1)
    pixels = read_png(path)
    assert tuple(pixels[2, 3]) == (255, 255, 255)
    assert tuple(pixels[0, 0]) == (0, 0, 0)


def test_tiles_boxes_and_paths(tmp_path):
    path = tmp_path / "tiles.png"
    images = [np.zeros((8, 8), np.float32) for _ in range(3)]
    vision.save_maps(path, images, [None, None, None], columns=3, scale=4, alpha=0.0,
                     boxes=[[(2, 2, 6, 6)], [], []], points=[[], [(1, 1), (7, 7)], []])
    pixels = read_png(path)
    assert pixels.shape == (4 + 32 + 4, 4 * 4 + 3 * 32, 3)
    red = (230, 30, 30)
    assert tuple(pixels[4 + 8, 4 + 16]) == red          # the box's top edge, first tile
    assert tuple(pixels[4 + 16, 4 + 36 + 16]) == red    # the path's middle, second tile
    assert tuple(pixels[4 + 30, 4 + 3]) == (128, 128, 128)  # the image (constant: grey)


def test_channel_weights_heatmap(tmp_path):
    path = tmp_path / "channels.png"
    vision.save_channel_weights(path, torch.rand(2, 16), title="SK", row_labels=["3x3", "5x5"])
    assert read_png(path).shape[1] > 16 * 12


@pytest.mark.parametrize("align_corners", [False, True])
def test_sampling_density_counts_bilinear_taps(align_corners):
    torch.manual_seed(0)
    theta = torch.tensor([[[0.7, 0.2, 0.1], [-0.1, 0.8, -0.2]]])
    grid = torch.nn.functional.affine_grid(theta, (1, 1, 6, 9), align_corners=align_corners)[0]
    density = vision.sampling_density(grid, 7, 5, align_corners).numpy()
    # The density is the gradient of sum(grid_sample(x)) with respect to x.
    x = torch.zeros(1, 1, 7, 5, requires_grad=True)
    torch.nn.functional.grid_sample(x, grid[None], align_corners=align_corners).sum().backward()
    np.testing.assert_allclose(density, x.grad[0, 0].numpy(), atol=1e-5)


def test_sampling_outline_of_a_zoom_matches_torch_grid(tmp_path):
    theta = torch.tensor([[[0.5, 0.0, 0.25], [0.0, 0.5, 0.0]]])
    grid = torch.nn.functional.affine_grid(theta, (1, 1, 4, 4), align_corners=False)[0]
    corners = vision.sampling_outline(grid, 8, 8)
    np.testing.assert_allclose(corners, [(2, 3), (2, 7), (6, 7), (6, 3)], atol=1e-5)
    path = tmp_path / "outline.png"
    vision.save_map(path, np.zeros((8, 8)), outline=corners, scale=4, alpha=0.0)
    assert tuple(read_png(path)[8, 20]) == (230, 30, 30)  # top edge, y = 2 px


def test_bad_input_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="pass one sample"):
        vision.save_map(tmp_path / "x.png", np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="map must be"):
        vision.save_map(tmp_path / "x.png", np.zeros((4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="2 maps for 1 images"):
        vision.save_maps(tmp_path / "x.png", [np.zeros((4, 4))], [None, None])
    with pytest.raises(ValueError, match="scale"):
        vision.save_map(tmp_path / "x.png", np.zeros((4, 4)), scale=0)
    with pytest.raises(ValueError, match="weights must be"):
        vision.save_channel_weights(tmp_path / "x.png", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="Ho, Wo, 2"):
        vision.sampling_density(np.zeros((1, 4, 4, 2)), 4, 4)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_every_block_map_can_be_drawn(tmp_path):
    """Each block's attention_map, after a forward, goes into a picture: the
    spatial ones over the image, the channel ones as cells, the STN's as its
    sampled region, DCN's as boxes and RAM's as a glimpse path."""
    from attnkit.nn import vision as blocks

    attnkit.manual_seed(0)
    image = attnkit.rand(2, 8, 20, 20)
    picture = image[0, 0]
    cbam = blocks.CBAM(8)
    cbam(image)
    vision.save_map(tmp_path / "cbam.png", picture, cbam.attention_map[0])
    for channel_block in (blocks.SqueezeExcite(8), blocks.ECA(8), blocks.SelectiveKernel(8, 8)):
        channel_block(image)
        vision.save_channel_weights(tmp_path / f"{type(channel_block).__name__}.png", channel_block.attention_map[0])
    residual = blocks.ResidualAttention(8)
    residual(image)
    vision.save_map(tmp_path / "mask.png", picture, residual.attention_map[0].mean(0))
    non_local = blocks.NonLocal(8)
    non_local(image)
    query = 5 * 20 + 7  # where pixel (5, 7) looks
    vision.save_map(tmp_path / "non_local.png", picture, non_local.attention_map[0, query].reshape(20, 20))
    stn = blocks.SpatialTransformer(8, input_size=(20, 20))
    stn(image)
    vision.save_maps(tmp_path / "stn.png", [picture, stn.warped[0, 0]],
                     outlines=[vision.sampling_outline(stn.attention_map[0], 20, 20), []], columns=2)
    dcn = blocks.DynamicCapacity(8, 10, top_k=2, patch_size=4)
    dcn(image)
    boxes = dcn.selected_regions[0].numpy().tolist()
    vision.save_map(tmp_path / "dcn.png", picture, dcn.attention_map[0], boxes=boxes)
    ram = blocks.RecurrentAttention(in_channels=8, glimpse_size=4, num_scales=2, num_glimpses=3)
    ram(image)
    path = (ram.attention_map[0].numpy() + 1) / 2 * 20  # (x, y) in [-1, 1] -> pixels
    vision.save_map(tmp_path / "ram.png", picture, points=[(y, x) for x, y in path])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 9, written
    for name in written:
        assert read_png(tmp_path / name).size > 0
