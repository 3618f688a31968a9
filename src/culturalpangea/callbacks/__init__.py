"""Training callbacks: throughput/MFU, sample generations, run folder bookkeeping."""
