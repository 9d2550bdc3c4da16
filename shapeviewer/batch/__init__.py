"""Batch registration of a population on Dask distributed, and statistics on the results.

``inputs`` names the shapes and plans the jobs, ``cluster`` opens a client (a local cluster, an existing
scheduler or one worker per GPU), ``worker`` holds what runs on the workers (the set-up plugin and one
job), ``runner`` submits the jobs and follows them, ``statistics`` makes the distance matrix and the
PCA of the momenta, ``modes`` shoots the PCA modes, ``command`` ties them to the command line.
No Qt here: the app may drive the same functions.
"""
