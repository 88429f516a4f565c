"""Detectors that read decoded pixels: QR codes, perceptual hashes, text (OCR), NSFW.

Each works on frames from :mod:`rules.images.decode`; none fetches or decodes itself.
"""
