"""The engine: search loop, budgets, runners, study storage and resume."""
