"""/拉黑图片 and /解除拉黑图片 (blockimage, unblockimage): known bad pictures, by reply.

An owner, admin or officer replies to a message holding a picture (or sticker)
with ``/拉黑图片 [类别]``: the picture's bytes are fetched through the platform's
:class:`~rules.commands.request.Edge` (``fetch``), hashed, and added to the
blocklist the ``image_hash`` detector reads
(:class:`~rules.detectors.images.blocklist.BlocklistService`): applied at once and
kept across restarts. From then on that picture, and resized, recompressed or
slightly cropped copies of it, is a violation of the category (default
``[images.hash] category``). ``/解除拉黑图片`` as a reply to a picture removes every
entry it matches. The blocklist is shared by all groups.
"""

from __future__ import annotations

from rules.commands.service import Call
from rules.core.messages import category_key, category_name
from rules.core.model import ImageRef
from rules.detectors.images.blocklist import BlocklistError

MAX_NAME = 100  # the entry's name, shown as a finding's "match"


async def blockimage(call: Call) -> str:
    service = call.service.image_blocklist
    call.require_group()
    if service is None:
        raise call.fail("cmd_blockimage_off")
    default = call.policy.images.hash.category
    category = default
    if call.args:
        known = [*dict.fromkeys([*call.policy.ladder.severity, default])]
        found = category_key(call.args[0], known)
        if found is None:
            names = "、".join(category_name(k, call.lang) for k in known)
            raise call.fail("cmd_words_category", category=call.args[0], categories=names)
        category = found
    added: list[str] = []
    problems: list[str] = []
    for ref, data in await _quoted_pictures(call, problems):
        try:
            entry = await service.add(
                data, _name(call, ref), category, call.request.caller.id, call.now
            )
        except BlocklistError as exc:
            problems.append(str(exc))
            continue
        added.append(entry.key)
    if not added:
        raise call.fail("cmd_blockimage_failed", why="；".join(problems))
    call.notes.append(f"blocked {len(added)} as {category}: {', '.join(k[:16] for k in added)}")
    reply = call.say(
        "cmd_blockimage_added", count=len(added), category=category_name(category, call.lang)
    )
    if problems:
        reply += "\n" + call.say("cmd_blockimage_failed", why="；".join(problems))
    return reply


async def unblockimage(call: Call) -> str:
    service = call.service.image_blocklist
    call.require_group()
    if service is None:
        raise call.fail("cmd_blockimage_off")
    removed: dict[str, str] = {}
    problems: list[str] = []
    for _ref, data in await _quoted_pictures(call, problems):
        try:
            entries = await service.remove(data)
        except BlocklistError as exc:
            problems.append(str(exc))
            continue
        removed.update((entry.key, entry.name) for entry in entries)
    if not removed:
        if problems:
            raise call.fail("cmd_blockimage_failed", why="；".join(problems))
        raise call.fail("cmd_unblockimage_none")
    call.notes.append(f"unblocked {len(removed)}: {', '.join(k[:16] for k in removed)}")
    return call.say("cmd_unblockimage_removed", count=len(removed))


async def _quoted_pictures(call: Call, problems: list[str]) -> list[tuple[ImageRef, bytes]]:
    """The quoted message's pictures and their bytes; failures are added to ``problems``."""
    quoted = call.request.quoted
    if quoted is None or not quoted.images:
        raise call.fail("cmd_blockimage_need_reply", with_usage=True)
    edge = call.require_edge()
    if edge.fetch is None:
        raise call.fail("cmd_blockimage_no_fetch")
    pictures: list[tuple[ImageRef, bytes]] = []
    for ref in quoted.images:
        try:
            pictures.append((ref, await edge.fetch(ref)))
        except Exception as exc:  # gone, too large, the account could not get it
            problems.append(str(exc) or type(exc).__name__)
    if not pictures:
        raise call.fail("cmd_blockimage_failed", why="；".join(problems))
    return pictures


def _name(call: Call, ref: ImageRef) -> str:
    """What the entry is called: where it came from (the group and message) and its key."""
    quoted = call.request.quoted
    message = quoted.message_id if quoted is not None else ""
    return f"{call.group_id}/{message}/{ref.key}"[:MAX_NAME]
