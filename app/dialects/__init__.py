"""One module per wire dialect: JSON in, a call into ``app.core``, JSON out."""
