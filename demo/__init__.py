"""Small demos that run a trained segmentor on your own images (``python -m demo.image_demo``)."""
