"""Reading the pipeline's HDF5 files (patch stores, coresets, anomaly maps) with errors that name the file.

h5py's own message for a file cut short by a killed job or a full disk ("truncated file: eof = ...")
names no file, and a job that reads several shards leaves the user guessing which one to delete.
"""

from pathlib import Path

import h5py


def open_h5(path: str | Path) -> h5py.File:
    """The HDF5 file at `path`, opened read-only; a missing, truncated or foreign file is refused, named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        reason = str(error).removeprefix("Unable to synchronously open file").strip(" ()")
        raise OSError(
            f"{path}: not a complete HDF5 file ({reason}); delete it and rerun the job that writes it"
        ) from error
