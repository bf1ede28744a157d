"""Fill empty msgstr entries of a .po file from a TSV of `msgid<TAB>translation` lines.

Usage: python scripts/fill_translations.py src/mamori/locale/ja/LC_MESSAGES/messages.po FILE.tsv
Existing translations are kept; the report lists what is still missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def main(po_file: Path, tsv_files: list[Path]) -> int:
    """Fill `po_file` from `tsv_files`; print the ids that remain untranslated."""
    with po_file.open("rb") as handle:
        catalog = read_po(handle)
    given: dict[str, str] = {}
    for tsv in tsv_files:
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                msgid, text = line.split("\t", 1)
                given[msgid] = text
    for message in catalog:
        if message.id and not message.string and message.id in given:
            message.string = given[str(message.id)]
    with po_file.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, sort_output=True, width=100)
    missing = [str(m.id) for m in catalog if m.id and not m.string]
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
