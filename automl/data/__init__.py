"""The data layer: built-in data sets (offline), file and image-folder loading, and train/validation/test splits."""

from automl.data.builtin import BuiltinDataset, builtin_datasets
from automl.data.dataset import Dataset
from automl.data.errors import DataError
from automl.data.files import SUPPORTED_SUFFIXES, infer_task, load_file
from automl.data.images import ImageFolderWarning, load_image_folder
from automl.data.loading import load_dataset
from automl.data.splits import DataSplits, Split, kfold_splits, split_dataset

__all__ = [
    "SUPPORTED_SUFFIXES",
    "BuiltinDataset",
    "DataError",
    "DataSplits",
    "Dataset",
    "ImageFolderWarning",
    "Split",
    "builtin_datasets",
    "infer_task",
    "kfold_splits",
    "load_dataset",
    "load_file",
    "load_image_folder",
    "split_dataset",
]
