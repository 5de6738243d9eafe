"""Keep the editor's work when the running order is composed again (an item added or removed).

The core's `compose` lays out jingles, gaps and speech from the template and orders items by priority.
The desk then puts the items back in the order the editor chose and restores the texts already edited
(each item's speech by item id; the opening and the closing by position).
"""

from __future__ import annotations

from dataclasses import replace

from studio.models import Bulletin, Segment


def item_positions(segments: tuple[Segment, ...]) -> list[int]:
    return [i for i, s in enumerate(segments) if s.kind == "speech" and s.item_id is not None]


def frame_positions(segments: tuple[Segment, ...]) -> list[int]:
    """Speech that belongs to no item: the opening (first) and the closing (last)."""
    return [i for i, s in enumerate(segments) if s.kind == "speech" and s.item_id is None]


def merge(fresh: Bulletin, current: Bulletin, order: list[int]) -> Bulletin:
    """`fresh` (just composed) with `current`'s edited texts, its items in `order`.

    Args:
        fresh: the template's layout for exactly the items in `order`.
        current: the draft being edited.
        order: item ids in the order wanted (new items last).
    """
    edited = {s.item_id: s.text for s in current.segments if s.kind == "speech" and s.item_id is not None}
    by_id = {s.item_id: s for s in fresh.segments if s.kind == "speech" and s.item_id is not None}
    segments = list(fresh.segments)
    for position, item_id in zip(item_positions(fresh.segments), order, strict=True):
        seg = by_id[item_id]
        segments[position] = replace(seg, text=edited.get(item_id, seg.text))
    old_frame, new_frame = frame_positions(current.segments), frame_positions(fresh.segments)
    if old_frame and new_frame:
        segments[new_frame[0]] = replace(segments[new_frame[0]], text=current.segments[old_frame[0]].text)
        if len(old_frame) > 1 and len(new_frame) > 1:
            segments[new_frame[-1]] = replace(
                segments[new_frame[-1]], text=current.segments[old_frame[-1]].text
            )
    return replace(current, segments=tuple(segments), item_ids=tuple(order), priority=fresh.priority)
