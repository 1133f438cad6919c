"""Understanding messages: the NLU components, the tracker store, training, validation and the fact check."""
