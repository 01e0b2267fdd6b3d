"""Reconcilers, one per backend: read what the backend has, ask ``operators.decisions`` what to
do, do it. Each kind's reconciler satisfies ``base.Reconciler``."""
