"""The pose demo's parts, each against what it must compute (no trained model needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

cv2 = pytest.importorskip("cv2", reason="pip install 'opencv-python-headless<5'")

from bnnkit.demos.pose.augment import augment  # noqa: E402
from bnnkit.demos.pose.decode import decode  # noqa: E402
from bnnkit.demos.pose.keypoints import FLIP_PERM, SKELETON  # noqa: E402
from bnnkit.demos.pose.metrics import pck, pck_hits  # noqa: E402
from bnnkit.demos.pose.pipeline import LEFT, MIDDLE, RIGHT, draw_skeleton  # noqa: E402
from bnnkit.demos.pose.train import heatmap_targets  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.floats(6, 58), st.floats(6, 58))
def test_decode_recovers_a_target_peak_to_a_tenth_of_a_pixel(x: float, y: float) -> None:
    """The training target of a keypoint, read back by the demo's decoder: the
    sub-pixel refinement must land on the keypoint, not on the 4-pixel grid (away
    from the outer ring of cells, where a peak has no neighbour to fit against)."""
    target, _ = heatmap_targets(np.array([[[x, y]]], np.float32), np.ones((1, 1)))
    logits = np.log(target.numpy().reshape(1, 16, 16) + 1e-9)
    points, conf = decode(logits, 4)
    (px, py), conf = points[0], conf[0]
    assert abs(px - x) < 0.1 and abs(py - y) < 0.1
    assert conf > 0.3


def test_decode_confidence_is_low_for_a_flat_map() -> None:
    flat = np.zeros((1, 16, 16))
    flat[0, 8, 8] = 1e-6
    _, conf = decode(flat, 4)
    assert conf[0] == pytest.approx(9 / 256, rel=1e-4)


def test_pck_counts_only_what_the_teacher_sees() -> None:
    ref = np.zeros((1, 17, 2), np.float32)
    ref[0, :, 0] = np.arange(17) * 5.0           # seen: 0..75 px wide -> radius 15
    vis = np.ones((1, 17), np.float32)
    vis[0, 16] = 0.1                             # not seen: never counted
    pred = ref.copy()
    pred[0, 0, 1] += 14.9                         # inside the radius
    pred[0, 1, 1] += 15.1                         # outside
    pred[0, 16, 1] += 500                         # far off, but not seen
    assert pck_hits(pred, ref, vis) == (15, 16)
    assert pck(pred, ref, vis) == pytest.approx(15 / 16)


def test_augment_moves_keypoints_with_the_image() -> None:
    """A bright dot drawn at each keypoint must still sit under the keypoint after the
    random similarity transform, the flip (with left/right swapped) included."""
    rng = np.random.default_rng(3)
    n = 12
    kps = rng.uniform(30, 66, (n, 17, 2)).astype(np.float32)
    for k in range(17):
        images = np.zeros((n, 96, 96), np.uint8)
        for i in range(n):
            cv2.circle(images[i], tuple(np.round(kps[i, k] - 0.5).astype(int)), 3, 255, -1)
        out, moved, vis = augment(images, kps, np.ones((n, 17), np.float32),
                                  np.random.default_rng(k))
        for i in range(n):
            spot = np.argwhere(out[i] > 60)
            if not len(spot) or vis[i].min() == 0:
                continue          # darkened away or pushed out of the input: nothing to find
            centre = spot.mean(0)[::-1] + 0.5
            # where keypoint k went: its own row, or its mirror twin's after a flip
            candidates = [moved[i, k], moved[i, FLIP_PERM[k]]]
            assert min(np.linalg.norm(centre - c) for c in candidates) < 1.5


def test_skeleton_drawing_on_a_known_frame() -> None:
    frame = np.zeros((120, 160, 3), np.uint8)
    pts = np.zeros((17, 2), np.float32)
    pts[5], pts[7], pts[9] = (40, 30), (40, 60), (40, 90)        # left arm, vertical
    pts[6], pts[8], pts[10] = (120, 30), (120, 60), (120, 90)    # right arm
    conf = np.zeros(17, np.float32)
    conf[[5, 7, 9, 6, 8]] = 0.9                                  # right wrist not seen
    out = draw_skeleton(frame, pts, conf, threshold=0.5, thickness=3)
    assert tuple(out[45, 40]) == LEFT                # on the left upper arm
    assert tuple(out[75, 40]) == LEFT                # on the left forearm
    assert tuple(out[45, 120]) == RIGHT              # right upper arm
    assert not out[80, 120].any()                    # no right forearm: wrist not seen
    assert tuple(out[30, 80]) == MIDDLE              # shoulder to shoulder
    assert (5, 6) in SKELETON or (6, 5) in SKELETON
    assert not out[5:20, :].any()                    # nothing drawn where no joint is


def test_fake_int8_weights_are_what_the_exporter_stores(tmp_path) -> None:
    """Baked fake-quantized weights lie on the per-channel INT8 grid that the
    exporter derives, so exporting them changes nothing (the C model computes
    what PyTorch trained)."""
    from bnnkit.demos.pose.nets import pose_net
    from bnnkit.nn import baked, fake_int8_weights
    torch.manual_seed(0)
    model = baked(fake_int8_weights(pose_net(True)))
    for m in (model[0], model[-1]):
        w = m.weight.detach().numpy().reshape(m.weight.shape[0], -1)
        scale = np.abs(w).max(1, keepdims=True) / 127
        q = w / scale
        assert np.abs(q - np.round(q)).max() < 1e-4


def test_trainer_trains_resumes_and_ships_the_same_file(tmp_path) -> None:
    """One epoch of both networks on a tiny synthetic set; a second run resumes the
    finished checkpoints (no training) and writes the same model file, byte for byte."""
    import json

    from bnnkit.demos.pose import train
    rng = np.random.default_rng(0)
    n = 40
    data = tmp_path / "crops.npz"
    np.savez_compressed(data, images=rng.integers(0, 255, (n, 96, 96), dtype=np.uint8),
                        keypoints=rng.uniform(20, 76, (n, 17, 2)).astype(np.float32),
                        visibility=rng.uniform(0, 1, (n, 17)).astype(np.float32),
                        split=np.array(["train"] * 32 + ["test"] * 8),
                        source=np.array(["a.avi"] * 32 + ["b.mp4"] * 8))
    argv = ["--data", str(data), "--epochs", "1", "--workdir", str(tmp_path / "work"),
            "--out", str(tmp_path / "pose.pt"), "--threads", "1"]
    train.main(argv)
    first = (tmp_path / "pose.pt").read_bytes()
    info = json.loads((tmp_path / "pose.train.json").read_text())
    assert info["train_crops"] == 32 and info["test_crops"] == 8
    assert len(info["bnn_history"]) == 1 and 0 <= info["bnn_pytorch_test_pck"] <= 1
    train.main(argv)
    assert (tmp_path / "pose.pt").read_bytes() == first


@given(st.floats(2, 62), st.floats(2, 46), st.floats(6, 70))
@settings(max_examples=40, deadline=None)
def test_detector_decoding_recovers_the_training_target(cx: float, cy: float, side: float
                                                        ) -> None:
    """A person square turned into the detector's training targets decodes back to itself
    (the C's output, dequantized, is read by the same decoding)."""
    from bnnkit.demos.pose.detector import decode_squares
    from bnnkit.demos.pose.train_detector import targets
    square = np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]],
                      np.float32)
    heat, reg, mask = targets(square)
    assert mask.sum() == 1 and heat.max() == 1
    logits = np.log(np.clip(heat, 1e-6, 1 - 1e-6) / (1 - np.clip(heat, 1e-6, 1 - 1e-6)))
    maps = np.concatenate([logits[..., None], reg.transpose(1, 2, 0)], axis=-1)
    found, logit = decode_squares(maps)
    np.testing.assert_allclose(found, square, atol=1e-3)
    assert logit[0] > 10


def test_detector_proposes_two_people_not_one_twice() -> None:
    """Two people, the second less sure: the two proposals are their squares, not the
    surest cell and its neighbour (which see the same person)."""
    from bnnkit.demos.pose.detector import decode_squares
    from bnnkit.demos.pose.train_detector import targets
    people = np.array([[4, 4, 28, 28], [36, 10, 60, 34]], np.float32)
    sure, _, _ = targets(people[:1])
    unsure, _, _ = targets(people[1:])
    _, reg, _ = targets(people)
    maps = np.concatenate([np.maximum(sure, 0.8 * unsure)[..., None], reg.transpose(1, 2, 0)],
                          axis=-1)
    found, logit = decode_squares(maps, 2)
    np.testing.assert_allclose(found, people, atol=1e-3)
    assert logit[0] > logit[1]


def test_letterbox_keeps_the_aspect_and_maps_frame_pixels() -> None:
    """A wide frame is shrunk into the middle of the detector's canvas, black above and
    below, and canvas = frame * scale + offset holds for a marked pixel."""
    from bnnkit.demos.pose.detector import CANVAS_H, CANVAS_W, letterbox
    frame = np.full((272, 640), 100, np.uint8)
    frame[130:140, 300:310] = 255
    canvas, scale, offset = letterbox(frame)
    assert canvas.shape == (CANVAS_H, CANVAS_W) and scale == CANVAS_W / 640
    assert canvas[0].max() == 0 and canvas[-1].max() == 0
    x, y = np.float32([305, 135]) * scale + offset
    assert canvas[int(y), int(x)] > 150
