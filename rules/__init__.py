"""GroupGuard's platform-free core: model, detectors, ladder, engine, executor, storage.

Nothing under ``rules/`` may import nonebot or wechaty (tests/test_architecture.py).
"""
