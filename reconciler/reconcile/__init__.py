"""Reconciling declared requests with Adobe: ledger, remote state, plan, apply, status."""
