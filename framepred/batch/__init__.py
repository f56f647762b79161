"""Many videos in one command: `fill_many` fills a library of videos with one model, in a
pipeline, resumably, on one machine (`jobs`) or across many (torchrun, SLURM).

`inputs` lists and names them, `summary` keeps the record (journals, the summary, resume),
`distributed` splits them between ranks, `runner` does the work.
"""

from framepred.batch.inputs import is_batch
from framepred.batch.runner import fill_many
from framepred.batch.summary import BatchSummary, FileEntry

__all__ = ["BatchSummary", "FileEntry", "fill_many", "is_batch"]
