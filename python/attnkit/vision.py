"""attnkit.vision: pictures of where vision blocks look.

Every block of :mod:`attnkit.nn.vision` keeps the attention of its last input
as ``attention_map``; these functions write one sample's map as a PNG, in
colour (viridis) over the input image::

    cbam = attnkit.nn.vision.CBAM(64)
    y = cbam(x)                                       # x: (B, 64, H, W)
    attnkit.vision.save_map("cbam.png", image[0], cbam.attention_map[0])

    stn = attnkit.nn.vision.SpatialTransformer(1, input_size=(32, 32))
    y = stn(x)
    region = attnkit.vision.sampling_outline(stn.attention_map[0], 32, 32)
    attnkit.vision.save_maps("stn.png", [x[0], y[0]], outlines=[region, []], columns=2)

Images and maps are one sample each, as attnkit tensors, NumPy arrays or
torch tensors: an image ``(H, W)``, ``(1, H, W)`` or ``(3, H, W)`` of any
range (shown stretched from its min to its max), a map ``(h, w)`` or
``(1, h, w)`` resized over the image. Files are written atomically.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import _C

Box = tuple[float, float, float, float]  # (y0, x0, y1, x1) in input pixels
Point = tuple[float, float]  # (y, x) in input pixels


def _tensor(value: Any, what: str) -> _C.Tensor:
    if isinstance(value, _C.Tensor):
        return value.detach()
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    except (TypeError, ValueError) as e:
        raise ValueError(f"save_map: the {what} must be a tensor or an array, got {type(value).__name__}") from e
    return _C.from_numpy(array)


def _scale(scale: Optional[int]) -> int:
    if scale is None:
        return 0  # the smallest that makes the longer side at least 256 pixels
    if not isinstance(scale, int) or scale <= 0:
        raise ValueError(f"save_map: scale must be a positive int or None, got {scale!r}")
    return scale


def save_maps(
    path: str,
    images: Sequence[Any],
    attentions: Optional[Sequence[Any]] = None,
    *,
    columns: int = 8,
    titles: Optional[Sequence[str]] = None,
    boxes: Optional[Sequence[Sequence[Box]]] = None,
    points: Optional[Sequence[Sequence[Point]]] = None,
    outlines: Optional[Sequence[Sequence[Point]]] = None,
    alpha: float = 0.5,
    normalize: bool = True,
    scale: Optional[int] = None,
) -> None:
    """Writes several images, each with its map (or None) drawn over it, tiled
    ``columns`` to a row in one PNG.

    ``boxes`` (per image, a list of ``(y0, x0, y1, x1)``) are outlined in red —
    the regions a DynamicCapacity block refined; ``points`` (per image, a
    list of ``(y, x)``) are joined into a path, the first point white — a
    RecurrentAttention glimpse path; ``outlines`` (per image, a polygon of
    ``(y, x)`` corners) are closed in red — a SpatialTransformer's sampled
    region (:func:`sampling_outline`). ``normalize`` stretches each map from its
    min to its max; False shows values in [0, 1] as they are.
    """
    images = list(images)
    if not images:
        raise ValueError("save_maps: no images given")
    n = len(images)

    def per_image(values: Optional[Sequence[Any]], what: str, empty: Any) -> list:
        if values is None:
            return [empty] * n
        values = list(values)
        if len(values) != n:
            raise ValueError(f"save_maps: {len(values)} {what} for {n} images; expected one per image")
        return values

    maps = [None if a is None else _tensor(a, "map") for a in per_image(attentions, "maps", None)]
    _C.io.save_map_overlays(
        str(path),
        [_tensor(image, "image") for image in images],
        maps,
        columns,
        float(alpha),
        bool(normalize),
        _scale(scale),
        [[tuple(float(v) for v in box) for box in bs] for bs in per_image(boxes, "box lists", [])],
        [[tuple(float(v) for v in point) for point in ps] for ps in per_image(points, "point lists", [])],
        [[tuple(float(v) for v in point) for point in ps] for ps in per_image(outlines, "outlines", [])],
        [str(t) for t in per_image(titles, "titles", "")],
    )


def save_map(
    path: str,
    image: Any,
    attention: Any = None,
    *,
    title: str = "",
    boxes: Optional[Sequence[Box]] = None,
    points: Optional[Sequence[Point]] = None,
    outline: Optional[Sequence[Point]] = None,
    alpha: float = 0.5,
    normalize: bool = True,
    scale: Optional[int] = None,
) -> None:
    """Writes one image with an attention map drawn over it in colour as a PNG
    (see :func:`save_maps` for the options)."""
    save_maps(
        path,
        [image],
        [attention],
        columns=1,
        titles=[title],
        boxes=[boxes or []],
        points=[points or []],
        outlines=[outline or []],
        alpha=alpha,
        normalize=normalize,
        scale=scale,
    )


def save_channel_weights(path: str, weights: Any, *, title: str = "", row_labels: Optional[Sequence[str]] = None,
                         cell: int = 12) -> None:
    """Writes channel attention — SqueezeExcite / ECA / CBAM channel weights
    ``(C,)``, or SelectiveKernel's ``(paths, C)`` — as a heatmap of cells, one
    column per channel."""
    w = _tensor(weights, "weights")
    if w.dim() == 1:
        w = w.unsqueeze(0)
    if w.dim() != 2:
        raise ValueError(
            f"save_channel_weights: weights must be (C,) or (rows, C) for one sample, got shape {tuple(w.shape)}"
        )
    rows = list(row_labels) if row_labels is not None else [str(i) for i in range(w.shape[0])]
    columns = [str(c) if c % 8 == 0 else "" for c in range(w.shape[1])]
    _C.io.save_attention_heatmap(str(path), w, rows, columns, title, "", "channel", cell)


def sampling_density(grid: Any, height: int, width: int, align_corners: bool = False) -> _C.Tensor:
    """``(height, width)``: how much of a sampling grid ``(Ho, Wo, 2)`` — a
    SpatialTransformer's ``attention_map`` for one sample — lands on each input
    pixel under bilinear ``grid_sample``; draw it with :func:`save_map`."""
    return _C.io.sampling_density(_tensor(grid, "grid"), height, width, align_corners)


def sampling_outline(grid: Any, height: int, width: int, align_corners: bool = False) -> list[Point]:
    """The four ``(y, x)`` corners, in input pixels, of the region a sampling
    grid ``(Ho, Wo, 2)`` reads from a ``(height, width)`` input: pass them as
    ``save_map(..., outline=...)`` to show what a SpatialTransformer cropped."""
    return _C.io.sampling_outline(_tensor(grid, "grid"), height, width, align_corners)


__all__ = ["save_channel_weights", "save_map", "save_maps", "sampling_density", "sampling_outline"]
