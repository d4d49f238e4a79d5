"""USD as people read it in the tile and the reports: never a figure that reads as free when it is not."""

from __future__ import annotations


def usd(value: float) -> str:
    """$1,234, $12.34, $0.042, <$0.001 (and $0.00 only for a cost that is exactly nothing)."""
    if value >= 1000:
        return f"${value:,.0f}"
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    if value >= 0.001:
        return f"${value:.3f}"
    return "<$0.001"
