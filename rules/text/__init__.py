"""Text handling: normalisation (folding, noise skipping, span maps), segmentation, look-
alike folding, hidden links, number forms, and the card-format syntax.
"""
