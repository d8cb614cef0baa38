"""Readable terminal output for the command line: article tables and the article sheet."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.dates import format_box_time, format_dateline
from bot.render.text import strip_invisible
from storage.models import Article, Topic


def _clip(text: str, width: int) -> str:
    text = " ".join(strip_invisible(text).split())
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def article_table(articles: Sequence[Article], *, width: int = 100) -> str:
    """One line per article: id, the publisher's local time, topics, title."""
    if not articles:
        return "No articles."
    id_width = max(len(str(a.id)) for a in articles)
    rows = []
    for article in articles:
        when = article.published_at.strftime("%Y-%m-%d %H:%M %z")
        topics = ",".join(article.topics) or "-"
        fixed = f"{article.id:>{id_width}}  {when}  {_clip(topics, 24):<24}  "
        rows.append(fixed + _clip(article.title, max(width - len(fixed), 20)))
    header_fixed = f"{'ID':>{id_width}}  {'PUBLISHED':<22}  {'TOPICS':<24}  TITLE"
    return "\n".join([header_fixed, *rows])


def article_sheet(article: Article) -> str:
    """Every field of one article, then its body and the publisher's related box."""
    lines = [
        article.title,
        "",
        f"ID:          {article.id}",
        f"Dateline:    {format_dateline(article.published_at)}",
        f"URL:         {article.url or '-'}",
        f"GUID:        {article.guid or '-'}",
        f"Publisher:   {article.publisher or '-'}",
        f"Attribution: {article.attribution or '-'}",
        f"Category:    {article.category or '-'}",
        f"Topics:      {', '.join(article.topics) or '-'}",
        f"Language:    {article.language or '-'}",
        f"Image:       {article.image_url or '-'}",
    ]
    if article.updated_at is not None:
        lines.append(f"Updated:     {article.updated_at:%Y-%m-%d %H:%M %Z}")
    text = article.body or article.summary
    if text:
        lines += ["", text]
    if article.related:
        lines += ["", "Related news"]
        for entry in article.related:
            when = (
                format_box_time(entry.published_at, article.published_at)
                if entry.published_at
                else ""
            )
            tail = " ".join(part for part in (entry.category, when) if part)
            lines.append(f"  {entry.title}")
            if tail:
                lines.append(f"    {tail}")
    return strip_invisible("\n".join(lines))


def topic_table(topics: Sequence[Topic], counts: dict[str, int]) -> str:
    if not topics:
        return "No topics configured. Add [topics.<slug>] tables to the config."
    width = max(len(t.slug) for t in topics)
    return "\n".join(f"{t.slug:<{width}}  {counts.get(t.slug, 0):>7}  {t.name}" for t in topics)
