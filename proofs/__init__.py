"""Proof suites: each promise the README makes, tried the way it breaks, with figures.

``python -m proofs [SUITE ...] [--short|--long]`` runs them (all by default) and exits non-zero
when any promise is broken; ``python -m proofs.<suite>`` runs one.  Each suite module has
``run(mode) -> Result``.  Short versions run in CI (``tests/proofs/``); long ones on demand.
"""

#: suite name -> module (in the order ``python -m proofs`` runs them: cheapest first).
SUITES: dict[str, str] = {
    "lost_answers": "proofs.lost_answers",
    "access": "proofs.access",
    "redis_restart": "proofs.redis_restart",
    "faults": "proofs.faults",
    "hostile": "proofs.hostile",
    "load": "proofs.load",
    "crash": "proofs.crash",
}
