"""Writes a small image folder in imagefolder's layout, to try `lpft` on "your own" data offline:
scikit-learn's 1,797 UCI digits (8x8, shipped with the package) as 32x32 PNGs.

    python examples/digits_folder.py myshift

    myshift/train/<digit>/*.png        two thirds of the digits
    myshift/test/<digit>/*.png         the rest (val is held out of train by lpft)
    myshift/ood/inverted/<digit>/      the test digits, white on black turned black on white
    myshift/ood/blurred/<digit>/       the test digits of 0-4 only, blurred (an OOD set over a class subset)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from sklearn.datasets import load_digits


def main(root: Path) -> None:
    digits = load_digits()
    images = (digits.images / 16 * 255).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    cut = len(images) * 2 // 3
    sets = {"train": order[:cut], "test": order[cut:]}
    for split, idx in sets.items():
        for i in idx:
            img = Image.fromarray(images[i]).resize((32, 32), Image.Resampling.BILINEAR)
            label = str(digits.target[i])
            targets = [(root / split / label, img)]
            if split == "test":
                targets.append((root / "ood" / "inverted" / label, Image.fromarray(255 - np.asarray(img))))
                if digits.target[i] < 5:
                    targets.append((root / "ood" / "blurred" / label, img.filter(ImageFilter.GaussianBlur(1.5))))
            for folder, picture in targets:
                folder.mkdir(parents=True, exist_ok=True)
                picture.save(folder / f"{i:04d}.png")
    print(f"wrote {root}: train {cut}, test {len(images) - cut}, ood inverted and blurred")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "myshift"))
