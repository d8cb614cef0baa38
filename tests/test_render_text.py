"""Text primitives: escaping, UTF-16 lengths, cuts that keep characters whole, fitting."""

from __future__ import annotations

import unicodedata

import pytest

from bot.render.text import (
    Span,
    bold,
    bold_link,
    clean_block,
    clean_line,
    escape,
    excerpt,
    fit,
    fit_html,
    fit_plain,
    http_url,
    plain,
    strip_invisible,
    truncate,
    utf16_len,
    visible_len,
    visible_text,
)

FACE = "😀"  # outside the BMP: two UTF-16 units
FAMILY = "👨‍👩‍👧"  # a ZWJ sequence: man, ZWJ, woman, ZWJ, girl
FLAG_AZ = "🇦🇿"  # two regional indicators
E_ACUTE = "e\u0301"  # e + combining acute accent


def whole_code_points(text: str) -> bool:
    """True when no half of a surrogate pair is left (strict UTF-16 encoding succeeds)."""
    try:
        text.encode("utf-16")
    except UnicodeEncodeError:
        return False
    return True


# -- escape and lengths ----------------------------------------------------------------------


def test_escape_covers_text_and_attributes() -> None:
    assert escape('<b> Tom & "Jerry" </b>') == "&lt;b&gt; Tom &amp; &quot;Jerry&quot; &lt;/b&gt;"
    assert escape("&amp;") == "&amp;amp;"  # already-escaped text is text, not markup
    assert escape("it's") == "it's"


def test_utf16_len_counts_code_units() -> None:
    assert utf16_len("") == 0
    assert utf16_len("abc") == 3
    assert utf16_len("é") == 1
    assert utf16_len(FACE) == 2
    assert utf16_len(FAMILY) == 8
    assert utf16_len(FLAG_AZ) == 4


def test_visible_text_strips_tags_and_decodes_entities() -> None:
    html = (
        '<a href="https://x.test/?a=1&amp;b=&quot;2&quot;"><b>1 &lt; 2 &amp;&amp; 3 &gt; 2</b></a>'
    )
    assert visible_text(html) == "1 < 2 && 3 > 2"
    assert visible_text("&#128512; &#x1F600; &quot;") == f'{FACE} {FACE} "'
    assert visible_len("<b>" + FACE + "</b>") == 2


# -- truncate --------------------------------------------------------------------------------


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("Putin and Rahmon", 16) == "Putin and Rahmon"
    assert truncate("", 0) == ""


def test_truncate_cuts_at_a_word_and_counts_the_ellipsis() -> None:
    text = "Putin underlines strategic partnership between Russia, Tajikistan"
    cut = truncate(text, 30)
    assert cut == "Putin underlines strategic…"
    assert utf16_len(cut) <= 30
    # A trailing comma before the ellipsis reads badly.
    assert truncate(text, 55) == "Putin underlines strategic partnership between Russia…"


def test_truncate_cuts_mid_word_when_the_only_space_is_too_far_back() -> None:
    cut = truncate("a " + "x" * 100, 20)
    assert cut == "a " + "x" * 17 + "…"
    assert utf16_len(cut) == 20


def test_truncate_respects_the_limit_for_every_limit() -> None:
    text = f"Tom & Jerry {FACE}{FAMILY} {E_ACUTE * 3} {FLAG_AZ} שלום עולם\r\nnext line " * 5
    for limit in range(len(text) + 5):
        cut = truncate(text, limit)
        assert utf16_len(cut) <= limit
        assert whole_code_points(cut)
        assert not cut.endswith("\r…")


def test_truncate_tiny_limits() -> None:
    assert truncate("hello", 0) == ""
    assert truncate("hello", 1) == "…"
    assert truncate(FACE * 3, 2) == "…"  # a face needs two units and the ellipsis one
    assert truncate("hello", 3, ellipsis="...") == "..."
    with pytest.raises(ValueError, match="limit"):
        truncate("hello", -1)


def test_truncate_never_splits_a_surrogate_pair() -> None:
    body = FACE * 5000
    for limit in (1, 2, 3, 4, 5, 100, 101, 4095, 4096):
        cut = truncate(body, limit)
        assert whole_code_points(cut)
        assert utf16_len(cut) <= limit
        assert set(cut) <= {FACE, "…"}


def test_truncate_handles_surrogates_held_as_separate_chars() -> None:
    # What a surrogatepass decode of UTF-16 leaves in a str: a high then a low surrogate.
    split = "\ud83d\ude00" * 10
    for limit in range(1, 22):
        cut = truncate(split, limit)
        assert not cut.rstrip("…").endswith("\ud83d")


def test_truncate_keeps_combining_marks_with_their_letter() -> None:
    text = E_ACUTE * 50
    for limit in range(2, 40):
        cut = truncate(text, limit).removesuffix("…")
        assert cut == E_ACUTE * (len(cut) // 2)
        assert not cut or not unicodedata.combining(cut[0])


def test_truncate_keeps_zwj_sequences_and_flags_whole() -> None:
    for unit in (FAMILY, FLAG_AZ, "👍🏽", "1️⃣"):
        text = unit * 40
        for limit in range(1, 60):
            cut = truncate(text, limit).removesuffix("…")
            assert cut == unit * (len(cut) // len(unit)), (unit, limit)


def test_truncate_never_cuts_inside_crlf() -> None:
    text = "ab\r\ncd"
    assert truncate(text, 4) == "ab…"


def test_truncate_of_one_huge_grapheme_still_fits() -> None:
    zalgo = "Z" + "\u0336" * 500
    cut = truncate(zalgo, 100)
    assert utf16_len(cut) <= 100
    assert cut.startswith("Z\u0336")
    # A small room and an ordinary grapheme: better an ellipsis than half a character.
    assert truncate(E_ACUTE * 3, 2) == "…"


def test_truncate_rtl_and_cjk() -> None:
    hebrew = "שלום עולם " * 30
    assert truncate(hebrew, 25) == "שלום עולם שלום עולם שלום…"
    assert truncate(hebrew, 23) == "שלום עולם שלום עולם…"
    chinese = "中文新闻" * 50
    assert truncate(chinese, 10) == "中文新闻中文新闻中…"


# -- excerpt ---------------------------------------------------------------------------------


def test_excerpt_prefers_whole_sentences() -> None:
    text = (
        "Russian President Vladimir Putin and his Tajik counterpart Emomali Rahmon plan to "
        'discuss regional security issues, TASS reports. "We have a lot of issues," Putin said.'
    )
    cut = excerpt(text, 140)
    assert cut.endswith("TASS reports. …")
    assert utf16_len(cut) <= 140


def test_excerpt_falls_back_to_words_without_a_near_sentence_end() -> None:
    text = "One. " + "word " * 100
    cut = excerpt(text, 60)
    assert cut.endswith("word…")
    assert utf16_len(cut) <= 60


def test_excerpt_leaves_short_text_alone() -> None:
    assert excerpt("Short. Text.", 100) == "Short. Text."


# -- cleaning --------------------------------------------------------------------------------


def test_clean_line_collapses_whitespace_and_drops_controls() -> None:
    assert clean_line("  Tom\t&\r\n Jerry\x00\x07 \ufeff ") == "Tom & Jerry"
    assert clean_line(None) == ""
    assert clean_line("lone \ud83d surrogate") == "lone \ufffd surrogate"
    assert clean_line("\ud83d\ude00") == FACE


def test_clean_block_keeps_paragraphs() -> None:
    raw = "\r\n  First   para\r\nline two\r\n\r\n\r\n\r\nSecond\u2028para \n\n"
    assert clean_block(raw) == "First para\nline two\n\nSecond\npara"


# -- urls ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.azernews.az/region/133271.html", True),
        ("HTTP://example.com", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("ftp://example.com/x", False),
        ("https://", False),
        ("https://exa mple.com", False),
        ("//example.com", False),
        ("", False),
        (None, False),
        ("https://x.test/" + "a" * 3000, False),
    ],
)
def test_http_url(url: str | None, ok: bool) -> None:
    assert (http_url(url) is not None) is ok


# -- spans and fitting -----------------------------------------------------------------------


def test_fit_cuts_flexible_spans_first_and_keeps_markup_out_of_cuts() -> None:
    spans = [
        bold_link("Tom & Jerry <b>", 'https://x.test/?q="1"&r=<2>'),
        plain("\n"),
        plain("body " * 2000, cut=1),
        plain("\nfooter"),
    ]
    html = fit_html(spans, 100)
    assert visible_len(html) <= 100
    assert html.startswith(
        '<a href="https://x.test/?q=&quot;1&quot;&amp;r=&lt;2&gt;">'
        "<b>Tom &amp; Jerry &lt;b&gt;</b></a>"
    )
    assert html.endswith("body…\nfooter")


def test_fit_as_a_last_resort_cuts_fixed_spans_from_the_end() -> None:
    fitted = fit([plain("a" * 50), bold("b" * 50)], 60)
    assert sum(utf16_len(s.text) for s in fitted) <= 60
    assert fitted[0].text == "a" * 50


def test_fit_drops_spans_it_empties() -> None:
    fitted = fit([plain("keep"), Span("x" * 10, "<i>", "</i>", cut=1)], 4)
    assert fitted == [plain("keep")]
    assert fit_html([plain("keep"), Span("x" * 10, "<i>", "</i>", cut=1)], 4) == "keep"


def test_fit_plain_has_no_markup() -> None:
    assert fit_plain([bold_link("<T>", "https://x.test"), plain(" & more")]) == "<T> & more"


def test_an_empty_message_is_refused() -> None:
    with pytest.raises(ValueError, match="visible"):
        fit_html([bold("  "), plain("\n")])


@pytest.mark.parametrize(
    "invisible",
    [
        *"\u202a\u202b\u202c\u202d\u202e",  # embeddings and overrides
        *"\u2066\u2067\u2068\u2069",  # isolates
        *"\u200e\u200f\u061c",  # direction marks
        *"\u200b\u200c\u200d\u2060\ufeff",  # zero-width space, joiners, word joiner, BOM
    ],
)
def test_strip_invisible_removes_bidi_controls_and_zero_width_characters(invisible: str) -> None:
    assert strip_invisible(f"pay{invisible}pal exe{invisible}") == "paypal exe"
    assert clean_line(f"{invisible}Title{invisible}") == "Title"
    assert clean_block(f"one{invisible}\n\ntwo") == "one\n\ntwo"


def test_strip_invisible_keeps_the_writing_that_needs_joiners() -> None:
    persian = "می\u200cخواهم"  # ZWNJ inside a Persian word
    skin_family = "👩🏽\u200d💻"
    heart = "❤\ufe0f\u200d🔥"
    for text in (FAMILY, persian, skin_family, heart, "plain text", ""):
        assert strip_invisible(text) == text
    assert strip_invisible("a\u200db\u200cc") == "abc"  # joiners between Latin letters


def test_strip_invisible_of_a_spoofed_title() -> None:
    spoof = "Invoice \u202egpj.exe\u202c from the \u2066central\u2069 bank\u200b"
    assert strip_invisible(spoof) == "Invoice gpj.exe from the central bank"
