"""State several bot processes share (claims, leases, flood counts): the interface and the
in-memory state in base, Redis in redis. The choice between them is made by the
composition root (rules.runtime).
"""
