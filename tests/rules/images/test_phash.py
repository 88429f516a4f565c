"""Perceptual hashes and the blocklist: copies match, unrelated pictures do not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from rules.detectors.images.phash import (
    BlocklistEntry,
    ImageBlocklist,
    ImageHashes,
    dhash,
    frame_hashes,
    hamming,
    image_hashes,
    phash,
)
from rules.images.decode import DecodedImage, decode_image
from tests import imagegen

POOL = [
    *imagegen.CHAT_LINES,
    "明天放假一天",
    "请把周报发我",
    "会议室改到三楼",
    "兼职刷单日结",
    "午饭吃什么",
    "群公告请大家看一下",
]


def originals() -> dict[str, Image.Image]:
    pictures: dict[str, Image.Image] = {}
    for index in range(6):
        pictures[f"photo{index}"] = imagegen.photo(seed=100 + index, size=(720, 720))
    for index in range(3):
        lines = random.Random(index).sample(POOL, 3 + index * 2)
        pictures[f"shot{index}"] = imagegen.phone_screenshot(lines, seed=index)
    pictures["poster"] = imagegen.poster()
    for index, word in enumerate(["滚", "笑死", "无语"]):
        pictures[f"sticker{index}"] = imagegen.sticker_frames(word, seed=index)[0]
    pictures["text"] = imagegen.text_image(POOL[:3])
    return pictures


@pytest.fixture(scope="module")
def pictures() -> dict[str, Image.Image]:
    return originals()


@pytest.fixture(scope="module")
def blocklist(pictures: dict[str, Image.Image]) -> ImageBlocklist:
    blocklist = ImageBlocklist()
    for name, picture in pictures.items():
        blocklist.add_image(name, "test", picture, key=name)
    return blocklist


def test_same_bits_as_imagehash() -> None:
    # Pinned from imagehash 4.3.2 (phash, dhash) on these pictures: small pictures are not
    # pre-reduced, so the bits are imagehash's own.
    assert f"{phash(imagegen.photo(seed=7, size=(120, 90))):016x}" == "8d768124eebca6d8"
    assert f"{dhash(imagegen.photo(seed=7, size=(120, 90))):016x}" == "c6d42026c3c7f3f3"
    assert f"{phash(imagegen.photo(seed=8, size=(100, 100))):016x}" == "e9a32a4aeafbc700"
    assert f"{dhash(imagegen.photo(seed=8, size=(100, 100))):016x}" == "cbd7de8bc3e01b87"


def test_hex_round_trip() -> None:
    hashes = image_hashes(imagegen.photo(seed=1, size=(200, 200)))
    assert ImageHashes.from_hex(hashes.hex()) == hashes
    assert hamming(0b1011, 0b0001) == 2


@pytest.mark.parametrize("transform", sorted(imagegen.TRANSFORMS))
def test_transformed_copies_match(
    pictures: dict[str, Image.Image], blocklist: ImageBlocklist, transform: str
) -> None:
    change = imagegen.TRANSFORMS[transform]
    for name, picture in pictures.items():
        if transform.startswith(("brightened", "all")) and name.startswith("shot"):
            continue  # brightening blows a screenshot's grey background out (documented)
        matches = blocklist.lookup([image_hashes(change(picture))])
        assert matches and matches[0].entry.key == name, (name, transform, matches[:2])


def test_unrelated_pictures_do_not_match(pictures: dict[str, Image.Image]) -> None:
    for name, picture in pictures.items():
        others = ImageBlocklist()
        for other, other_picture in pictures.items():
            if other != name:
                others.add_image(other, "test", other_picture, key=other)
        for copy in (picture, imagegen.TRANSFORMS["jpeg_q40"](picture)):
            assert others.lookup([image_hashes(copy)]) == [], name
    fresh = [imagegen.photo(seed=500 + index) for index in range(5)]
    fresh += [imagegen.sticker_frames("加油", seed=50 + index)[0] for index in range(3)]
    blocklist = ImageBlocklist()
    for name, picture in pictures.items():
        blocklist.add_image(name, "test", picture, key=name)
    for picture in fresh:
        assert blocklist.lookup([image_hashes(picture)]) == []


def test_add_remove_and_thresholds() -> None:
    picture = imagegen.photo(seed=1, size=(300, 300))
    blocklist = ImageBlocklist()
    entry = blocklist.add_image("spam.png", "ads", picture)
    assert len(blocklist) == 1 and entry.key in blocklist and entry.category == "ads"
    assert len(entry.hashes) >= 2  # the frame and its crop variants
    query = [image_hashes(imagegen.cropped(picture, 0.05))]
    assert blocklist.lookup(query)[0].entry is entry
    best = blocklist.lookup(query)[0]
    assert blocklist.lookup(query, threshold=best.distance)  # the threshold is inclusive
    if best.distance:
        assert blocklist.lookup(query, threshold=best.distance - 1) == []
    nearest = blocklist.nearest([image_hashes(imagegen.photo(seed=2, size=(300, 300)))])
    assert nearest is not None and nearest.distance > blocklist.threshold
    assert blocklist.remove_matching(query) == (entry,)
    assert len(blocklist) == 0 and blocklist.lookup(query) == []
    assert blocklist.remove("nothing") is None
    with pytest.raises(ValueError):
        ImageBlocklist(threshold=65)
    with pytest.raises(ValueError):
        blocklist.add(BlocklistEntry("k", "n", "c", ()))


def test_animated_entry_matches_any_frame() -> None:
    frames = [imagegen.photo(seed=seed, size=(200, 200)) for seed in (11, 12, 13, 14, 15)]
    picture = decode_image(imagegen.animated(frames, "webp"))
    assert isinstance(picture, DecodedImage)
    blocklist = ImageBlocklist()
    entry = blocklist.add_image("loop.webp", "gore", picture)
    assert entry.key == picture.sha256
    still = decode_image(imagegen.jpeg(frames[-1]))
    assert isinstance(still, DecodedImage)
    match = blocklist.lookup(frame_hashes(still))
    assert match and match[0].entry is entry


def test_load_files_with_globs_and_failures(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "one.png").write_bytes(imagegen.png(imagegen.photo(seed=21, size=(200, 200))))
    (folder / "two.jpg").write_bytes(imagegen.jpeg(imagegen.photo(seed=22, size=(200, 200))))
    (folder / "notes.png").write_bytes(imagegen.zip_archive())
    blocklist = ImageBlocklist()
    report = blocklist.load_files(
        ["bad/*.png", "bad/two.jpg", "missing/*.gif"], "ads", base_dir=tmp_path
    )
    assert sorted(entry.name for entry in report.added) == ["one.png", "two.jpg"]
    assert [Path(failure.path).name for failure in report.failures] == ["notes.png"]
    assert "ZIP" in report.failures[0].reason
    assert report.unmatched_patterns == ("missing/*.gif",)
    copy = imagegen.resized(imagegen.photo(seed=22, size=(200, 200)), 0.5)
    assert blocklist.lookup([image_hashes(copy)])[0].entry.name == "two.jpg"
    again = blocklist.load_files([folder], "ads")  # a folder: every file in it
    assert len(again.added) == 2 and len(blocklist) == 2  # same keys (SHA-256), replaced
