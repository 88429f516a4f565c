"""rules.text.segment gives the word boundaries of jieba's own segmentation without HMM."""

from __future__ import annotations

import logging

import jieba
import pytest

from rules.text import segment

SENTENCES = [
    "周六要通宵打麻将 带点吃的喝的",
    "你旁边的那个女生有男朋友吗？",
    "不知何时才能还清啊",
    "我是老虎，起床了吗？肯定没起",
    "iPhone 15和MacBook Air 2024款今天到货",
    "A股涨了3.5%，T恤卖了100件",
    "倩女幽魂  和 关云长",
    "他在网上堵博输光了工资",
]


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk


@pytest.mark.parametrize("text", SENTENCES)
def test_boundaries_are_jiebas(tokenizer: jieba.Tokenizer, text: str) -> None:
    expected, at = {0}, 0
    for word in tokenizer.cut(text, HMM=False):
        at += len(word)
        expected.add(at)
    assert segment.lexicon().boundaries(text) == expected


def test_cuts_a_word() -> None:
    text = "周六要通宵打麻将"
    assert segment.cuts_a_word(text, 5, 7, 8)  # 打麻|将
    assert not segment.cuts_a_word(text, 5, 8, 8)  # 打麻将
    assert not segment.cuts_a_word("一起堵博吧", 2, 4, 8)
