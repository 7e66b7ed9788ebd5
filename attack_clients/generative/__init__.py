"""Generative model inversion: a face prior learned from people other than the victims, searched per victim."""
