"""The project as a whole: README and docs site, the package layout, packaging, examples, the benchmark docs, the CPU switches."""
