"""`edgekit compare`: one model on each runtime variant on one board, side by side.

run.py generates, builds, flashes and validates each variant; result.py holds what they
measured; report.py shows it (console, JSON, Markdown, PNG).

    from edgekit.compare.run import compare_runtimes
"""
