"""The PEP 440 oracle: `packaging.version.Version` orders and decomposes versions.

Usage: pep440.py INPUT... > expected/pep440.tsv — see recipe.sh for the columns.
"""

import sys

import packaging
from packaging.version import InvalidVersion, Version


def read(paths):
    seen = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                s = line.strip()
                if s and not s.startswith("#") and s not in seen:
                    seen.append(s)
    return seen


def main() -> None:
    parsed = []
    for s in read(sys.argv[1:]):
        try:
            parsed.append((Version(s), s))
        except InvalidVersion:
            pass
    parsed.sort(key=lambda p: p[0])
    rows, rank, previous = [], -1, None
    for v, s in parsed:
        if previous is None or v != previous:
            rank += 1
            previous = v
        post = "-" if v.post is None else str(v.post)
        release = ".".join(map(str, v.release))
        rows.append((rank, s, f"{v.epoch}\t{release}\t{str(v.is_prerelease).lower()}\t{post}"))
    print(f"# packaging {packaging.__version__}")
    print("version\trank\tepoch\trelease\tprerelease\tpost")
    for rank, s, rest in sorted(rows, key=lambda r: (r[0], r[1].encode())):
        print(f"{s}\t{rank}\t{rest}")


if __name__ == "__main__":
    main()
