"""/敏感词 and /白名单 (words, allow): a group's own blocked and allowed words.

``/敏感词 添加 [类别] 词...`` files a word under a category the word lists know
(or "custom"); ``删除`` removes, ``列表`` lists. The words live in the
:class:`~rules.detectors.custom_words.WordService` the keyword detector reads.
"""

from __future__ import annotations

from pathlib import Path

from rules.commands.parse import ADD, DELETE, LIST
from rules.commands.service import Call
from rules.core.messages import category_key, category_name
from rules.detectors.custom_words import DEFAULT_CATEGORY, WordError
from rules.detectors.keyword import expand_globs
from rules.detectors.keyword_index import ALLOW


async def words(call: Call) -> str:
    return await _word_list(call, allow=False)


async def allow(call: Call) -> str:
    return await _word_list(call, allow=True)


async def _word_list(call: Call, allow: bool) -> str:
    service = call.service.words
    group_id = call.require_group()
    if service is None or not call.args:
        raise call.usage_error()
    verb, rest = call.args[0].lower(), call.args[1:]
    if verb in LIST:
        listed = [w.word for w in await service.list(group_id) if (w.list == "allow") == allow]
        return call.say("cmd_words_list", count=len(listed), words="、".join(listed) or "-")
    category = ""
    if not allow and rest and verb in ADD | DELETE:
        known = _categories(call)
        key = category_key(rest[0], known)
        if verb in ADD and key is None:
            names = "、".join(category_name(k, call.lang) for k in known)
            raise call.fail("cmd_words_category", category=rest[0], categories=names)
        if key is not None:
            category, rest = key, rest[1:]
    if verb not in ADD | DELETE or not rest:
        raise call.usage_error()
    changed: list[str] = []
    unchanged: list[str] = []
    for word in rest:
        if verb in ADD:
            try:
                done = await service.add(
                    group_id, word, category=category, allow=allow, added_by=call.request.caller.id
                )
            except WordError as exc:
                raise call.fail("cmd_words_bad", word=word, why=str(exc)) from None
        else:
            done = await service.remove(group_id, word, allow=allow)
        (changed if done else unchanged).append(word)
    call.notes.append(f"{verb} {','.join(changed)}")
    lines = []
    if changed:
        key = "cmd_words_added" if verb in ADD else "cmd_words_removed"
        lines.append(call.say(key, words="、".join(changed)))
    if unchanged:
        lines.append(call.say("cmd_words_unchanged", words="、".join(unchanged)))
    return "\n".join(lines)


def _categories(call: Call) -> list[str]:
    """Categories a custom word may be filed under: the loaded lists', and "custom"."""
    files = [Path(f).stem for f in expand_globs(call.config.keywords.files)]
    known = [stem for stem in files if stem != ALLOW]
    return [*dict.fromkeys([*known, *call.policy.ladder.severity, DEFAULT_CATEGORY])]
