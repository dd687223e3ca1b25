"""The reliability suite (docs/reliability.md): bad input, crashes, transient faults, concurrent
writers, privacy, backups and scale, each measured as figures against targets.

``python -m reliability`` (``make reliability``) runs it in full and prints the table;
``tests/reliability/`` runs bounded sizes in CI.
"""
