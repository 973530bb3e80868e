"""Built-in suite specs (TOML). This folder ships inside the wheel as ``cyclip_bench.suites``."""
