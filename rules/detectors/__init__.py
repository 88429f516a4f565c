"""Detectors: small synchronous units that turn a ChatEvent into findings."""
