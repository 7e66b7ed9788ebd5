"""``python -m attack_clients evaluate``: every attack against every defence, and a report.

``sweep`` defines the grid and profiles, ``service`` the server, ``cells`` one
measurement, ``runner`` the parallel execution, ``store`` the resumable results,
``results`` and ``answers`` the verdicts, ``study`` the 2015 paper's claims,
``figures``, ``report`` and ``summary`` the outputs; ``run`` ties them together.
"""
