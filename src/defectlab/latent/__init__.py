"""Latent space of defects: embeddings, reductions, clustering, anomaly screens and the review set."""
