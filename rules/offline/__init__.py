"""Offline use: scanning JSONL files and QQ chat exports with the engine, acting on no
platform.
"""
