"""What officers receive and read: the report outbox, the daily digest (the digest itself,
its job, text and chart) and case exports. Reads and writes through the store protocols
declared here; the records shared with storage are in ``rules.core.records``.
"""
