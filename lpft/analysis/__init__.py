"""Results -> selection, tables with their intervals, frontiers, effective robustness, figures and
the report. Reads results through `lpft.dataset` only: no torch, no Ray (ARCHITECTURE.md)."""
