"""`python -m cyclip_bench` runs the same Typer app as the `cyclip-bench` script (torchrun uses this form)."""

from cyclip_bench.cli import main

if __name__ == "__main__":
    main()
