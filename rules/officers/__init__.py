"""What officers receive and read: the report outbox, the daily digest (records, job, text,
chart) and case exports.
"""
