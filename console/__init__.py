"""kanri's operations console, its control plane and the `kanri` command line."""
