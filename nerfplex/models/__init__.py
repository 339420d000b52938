"""Methods: a field + sampler + compositor behind one interface."""
