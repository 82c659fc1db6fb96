"""Datasets in the common layout and the HDF5 patch stores cut from them."""
