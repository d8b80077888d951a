"""Prints the string literals of test source files that could be versions.

Usage: extract.py FILE...  — one candidate a line, each once, in order of first
appearance. The filter is deliberately loose (a digit, no inner whitespace): the
oracle of each ecosystem decides which candidates are versions, in recipe.sh.
"""

import re
import sys

LITERAL = re.compile(r""""([^"\\\n]*)"|'([^'\\\n]*)'""")
CANDIDATE = re.compile(r"[0-9vV=][0-9A-Za-z.+!_~=-]*")


def main() -> None:
    seen = set()
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for match in LITERAL.finditer(text):
            s = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
            if (
                s
                and len(s) <= 80
                and any(c.isdigit() for c in s)
                and CANDIDATE.fullmatch(s)
                and s not in seen
            ):
                seen.add(s)
                print(s)


if __name__ == "__main__":
    main()
