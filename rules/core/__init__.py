"""Vocabulary every layer shares: the model (events, members, findings, actions, outcomes),
the ports (gateway and store protocols), the message catalogue (all Chinese/English
wording), durations, and small hot-path helpers (group commit, pickle caches). Imports
nothing else from rules.
"""
