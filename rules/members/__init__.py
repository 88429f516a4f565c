"""Members of guarded groups: card compliance timelines, card judging, the roster, join
screening and the scheduled member audit.
"""
