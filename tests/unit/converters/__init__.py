"""Tests of the dataset converters, on tiny datasets written in each dataset's real layout."""
