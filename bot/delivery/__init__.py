"""Delivery: from a post file in the site to each platform's publisher, exactly once.

``services`` wires one process's collaborators, ``planner`` turns a scan into delivery records,
``sender`` makes one delivery attempt, ``schedule`` holds the rate rules and retry timing. The
Celery layer (``tasks/``) only calls these.
"""
