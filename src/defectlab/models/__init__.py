"""Trained models other than PatchCore, one subpackage per family (autoencoders/, …); each trains through
`defectlab.training.train` and writes its per-pixel maps through `defectlab.maps.write_maps`."""
