"""Helper scripts that fetch third-party material for the benchmarks (never imported by
`framepred`)."""
