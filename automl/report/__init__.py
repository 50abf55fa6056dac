"""``automl report``: one self-contained HTML page of a study (``page.py``), its plots (``figures.py``)
and the bootstrap interval of the best model's test score (``interval.py``)."""
