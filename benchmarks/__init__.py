"""Speed and memory measurements with their baselines; ``python -m benchmarks --quick --json OUT`` runs them."""
