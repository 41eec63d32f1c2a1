"""Dataset preparation and GAN training (``anonymize-train``)."""
