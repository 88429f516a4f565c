"""The image path: fetching bytes safely, decoding them into bounded pixels, thumbnails.

Platform-free and detector-free: the intake hands raw bytes (or a path/URL) here and
gets back decoded frames that the image detectors in ``rules.detectors.images`` read.
"""
