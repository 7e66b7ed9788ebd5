"""Behaviour of the service: the dialects only translate JSON to and from here."""
