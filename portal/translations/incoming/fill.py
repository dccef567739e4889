"""Fill empty msgstr entries of the zh_CN catalog from portal/translations/incoming/*.po (work in progress)."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

here = Path("portal/translations")
po_path = here / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
incoming = {}
for path in sorted((here / "incoming").glob("*.po")):
    with path.open("rb") as fh:
        for message in read_po(fh):
            if message.id and message.string:
                incoming[message.id] = message.string
with po_path.open("rb") as fh:
    catalog = read_po(fh)
filled = 0
for message in catalog:
    if message.id and message.id in incoming and (not message.string or message.fuzzy):
        message.string = incoming[message.id]
        message.flags.discard("fuzzy")
        filled += 1
tmp = po_path.with_suffix(".tmp")
with tmp.open("wb") as fh:
    write_po(fh, catalog, width=120)
tmp.replace(po_path)
print(f"filled {filled} entries from incoming/")
