"""Adversary-side clients: they see the service only through its API."""
