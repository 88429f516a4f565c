"""Real-name group cards: the nickname detector, card judging and the roster it checks against.

``detector`` holds :class:`NicknameDetector`; ``cards`` judges a card against the
group's formats part by part; ``roster`` is the member directory (who is a real
person, and which accounts are theirs) that the detector, join screening and the
member audit read.
"""

from rules.detectors.nickname.detector import NicknameDetector, card_for

__all__ = ["NicknameDetector", "card_for"]
