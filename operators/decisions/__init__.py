"""Pure reconcile decisions, one module per backend: desired (the spec) against actual (what the
backend reported) gives the actions to take, or a refusal. No I/O, so each rule has a unit
test; the reconcilers do the talking."""
