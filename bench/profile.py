"""Summarise a py-spy collapsed-stack file (`--format raw`): where the server's samples go.

    python bench/profile.py PROFILE [--top 25] [--match app/]

Prints each function's inclusive share (the sample passed through it) and self share, so
"what limits this path" can be read without a flame-graph viewer.
"""

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")


def summarise(path: Path, top: int, match: str | None) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for raw in stack.split(";"):
            found = _FRAME.match(raw)
            name = raw
            if found:
                file = found["file"].split("site-packages/")[-1].split("/work/main/")[-1]
                name = f"{found['func']} ({file})"
            frames.append(name)
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"-- top {top} by {title} share")
        shown = 0
        for name, count in counter.most_common():
            if match and match not in name:
                continue
            lines.append(f"{100 * count / max(total, 1):5.1f}%  {name}")
            shown += 1
            if shown >= top:
                break
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default=None)
    args = parser.parse_args()
    print(summarise(args.profile, args.top, args.match))
