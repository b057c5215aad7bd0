"""Slurm: sbatch scripts of training runs, and a local one-node Slurm for trying them."""
