"""Model inversion of face classifiers (Fredrikson, Jha & Ristenpart, CCS 2015)."""
