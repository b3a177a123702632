"""Every message of the pages is translated into Russian and Tajik (and every code has an
English label), and the compiled catalogs match their sources."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "monitor_api" / "web"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def _messages() -> set[str]:
    found = extract_from_dir(str(WEB), METHODS, keywords={"_": None, "gettext": None,
                                                         "N_": None})
    return {msg for _f, _l, msg, _c, _ctx in found if isinstance(msg, str) and msg}


def test_every_message_is_translated() -> None:
    messages = _messages()
    assert len(messages) > 150
    for lang in ("ru", "tg"):
        catalog = read_po((WEB / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb"))
        translated = {m.id for m in catalog if m.id and m.string}
        assert messages - translated == set(), lang
        compiled = read_mo((WEB / "translations" / lang / "LC_MESSAGES" / "messages.mo").open(
            "rb"))
        assert {m.id: m.string for m in compiled if m.id} == {
            m.id: m.string for m in catalog if m.id}, f"{lang}: run scripts/i18n/translations.py"
    english = read_po((WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb"))
    from monitor_api.web.labels import CODES

    assert set(CODES) <= {m.id for m in english if m.string}
