"""Datasets: validation, statistics, sources and generators."""

from memcap.data.dataset import DataError, Dataset
from memcap.data.generators import GENERATORS
from memcap.data.sources import SOURCES_HELP, load_dataset

__all__ = ["Dataset", "DataError", "load_dataset", "GENERATORS", "SOURCES_HELP"]
