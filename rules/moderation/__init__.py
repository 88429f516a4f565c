"""The moderation pipeline: the engine (event -> findings -> decision -> actions), the
strike ladder, the executor (capabilities and fallbacks), and the wording of notices and
reports.
"""
