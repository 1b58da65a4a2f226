"""``gptlab-compare``: read the runs of a sweep, aggregate seeds, print a table, draw curves, write a report.

``runs`` reads run dirs, ``stats`` holds the seed statistics, ``groups`` finds the swept knobs and
groups runs by them, ``curves`` draws the loss curves, ``html`` writes the report, ``cli`` ties them.
"""
